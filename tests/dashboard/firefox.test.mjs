// The dashboard in Firefox (Debian's firefox-esr, driven over WebDriver BiDi by
// puppeteer-core; Playwright needs a patched Firefox that cannot be had here): the token
// exchange, the image list, a container run from the dialog with a published port, a
// terminal over the WebSocket, stop and remove. crates/cli/tests/dashboard.rs runs it.
//
// Usage: node firefox.test.mjs URL-WITH-TOKEN ARTIFACTS-DIR HOST-PORT
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import puppeteer from "puppeteer-core";

const [url, artifacts, hostPort] = process.argv.slice(2);
if (!url || !artifacts || !hostPort) {
  console.error("usage: node firefox.test.mjs URL-WITH-TOKEN ARTIFACTS-DIR HOST-PORT");
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });

const text = (page, selector, needle) =>
  page.waitForFunction(
    (sel, n) => [...document.querySelectorAll(sel)].some((e) => e.textContent.includes(n)),
    { timeout: 20000 },
    selector,
    needle,
  );

test("in Firefox: run a container from the Images view, use its terminal, stop and remove it", async () => {
  const browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: process.env.FIREFOX || "/usr/bin/firefox-esr",
    headless: true,
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 800 });
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("dialog", (d) => d.accept());
    await page.goto(url);
    assert.equal(new URL(page.url()).search, "", "the token left the address bar");
    assert.equal(await page.evaluate(() => document.cookie), "", "page scripts cannot read the token");

    await page.click('nav a[href="/images"]');
    await text(page, "table[aria-label=Images] td", "busybox");
    await page.click('button[aria-label="Run busybox:latest"]');
    await page.waitForSelector("dialog[open] input[name=name]");
    await page.type("dialog[open] input[name=name]", "ff-web");
    await page.type("dialog[open] textarea[name=ports]", `127.0.0.1:${hostPort}:80`);
    await page.type(
      "dialog[open] input[name=command]",
      // The shell stays PID 1 and ends at SIGTERM, so Stop is quick (httpd as PID 1 would
      // ignore it and wait for the stop timeout's SIGKILL).
      `sh -c 'trap "exit 0" TERM; mkdir -p /www && echo firefox-ok > /www/index.html && httpd -f -p 80 -h /www & wait'`,
    );
    await page.click("dialog[open] button[type=submit]");
    await text(page, "h1", "ff-web");
    await page.waitForSelector(".toolbar .badge.running", { timeout: 20000 });
    const body = await (await fetch(`http://127.0.0.1:${hostPort}/`)).text();
    assert.equal(body, "firefox-ok\n");

    // The terminal: xterm.js over the WebSocket, which the page's CSP must allow.
    await text(page, "[role=tab]", "Terminal");
    const tabs = await page.$$("[role=tab]");
    for (const t of tabs) if ((await t.evaluate((e) => e.textContent)) === "Terminal") await t.click();
    await text(page, ".terminal-view .count", "Connected");
    await text(page, ".terminal .xterm-rows", "#");
    await page.focus(".terminal textarea");
    await page.keyboard.type("echo $((20+22))\n");
    await page.waitForFunction(
      () => [...document.querySelectorAll(".terminal .xterm-rows > div")].some((r) => r.textContent.trim() === "42"),
      { timeout: 20000 },
    );
    await page.screenshot({ path: `${artifacts}/firefox-terminal.png` });

    await page.click('nav a[href="/containers"]');
    // Leaving the terminal ends its exec, and that event redraws the table: a click that
    // lands while the row is redrawn can be lost, so it is tried again (a person would too).
    const exited = "table[aria-label=Containers] .badge.exited";
    for (let attempt = 0; attempt < 3 && !(await page.$(exited)); attempt++) {
      await page.waitForSelector('button[aria-label="Stop ff-web"]');
      await page.click('button[aria-label="Stop ff-web"]').catch(() => {});
      await page.waitForSelector(exited, { timeout: 15000 }).catch(() => {});
    }
    if (!(await page.$(exited))) {
      // What the engine says, for whoever reads the failure.
      const said = await page.evaluate(async () => {
        const get = async (p) => (await fetch(p)).text();
        const events = await get(`/api/events?since=0&until=${Math.ceil(Date.now() / 1000)}`);
        return { containers: await get("/api/containers/json?all=1"), events: events.split("\n").filter((l) => l.includes("ff-web")) };
      });
      assert.fail(`ff-web is not shown exited after Stop; the engine says: ${JSON.stringify(said)}`);
    }
    await page.click('button[aria-label="Remove ff-web"]');
    await text(page, ".empty", "No containers.");
    assert.deepEqual(errors, [], "no script errors on the page");
  } finally {
    await browser.close();
  }
});
