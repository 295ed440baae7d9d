// The dashboard as a user drives it, in Debian's Chromium through playwright-core:
// crates/cli/tests/dashboard.rs starts `berth serve --dashboard` on a store holding the
// busybox image and runs this with the printed URL. Every step waits for what the page shows
// (bounded); screenshots of the main views go to ARTIFACTS.
//
// Usage: node dashboard.test.mjs URL-WITH-TOKEN ARTIFACTS-DIR HOST-PORT REGISTRY-HOST
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { openDashboard } from "./browser.mjs";

const [url, artifacts, hostPort, registry] = process.argv.slice(2);
if (!url || !hostPort || !artifacts || !registry) {
  console.error("usage: node dashboard.test.mjs URL-WITH-TOKEN ARTIFACTS-DIR HOST-PORT REGISTRY-HOST");
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });
const origin = new URL(url).origin;
const token = new URL(url).searchParams.get("token");

test("without the token, from another site or by another name, requests are refused", async () => {
  let r = await fetch(`${origin}/`);
  assert.equal(r.status, 401);
  r = await fetch(`${origin}/api/containers/json`);
  assert.equal(r.status, 401);
  assert.match((await r.json()).message, /token/);
  const cookie = `berth_dashboard=${token}`;
  r = await fetch(`${origin}/api/containers/json`, { headers: { cookie } });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("access-control-allow-origin"), null);
  r = await fetch(`${origin}/api/containers/create`, {
    method: "POST",
    headers: { cookie, origin: "http://evil.example", "content-type": "application/json" },
    body: JSON.stringify({ Image: "busybox" }),
  });
  assert.equal(r.status, 403);
  r = await fetch(`${origin}/api/containers/create`, {
    method: "POST",
    headers: { cookie, "content-type": "application/json" },
    body: JSON.stringify({ Image: "busybox" }),
  });
  assert.equal(r.status, 403, "a change without Origin is refused");
  r = await fetch(`${origin}/?token=${"0".repeat(64)}`, { redirect: "manual" });
  assert.equal(r.status, 401);
});

test("see the image, run it with a published port, open it, read its logs, stop and remove it", async () => {
  const { browser, context, page, errors } = await openDashboard(url);
  try {
    // The token left the address bar for an HttpOnly cookie.
    assert.equal(new URL(page.url()).search, "");
    const cookies = await context.cookies();
    const c = cookies.find((k) => k.name === "berth_dashboard");
    assert.ok(c && c.httpOnly && c.sameSite === "Strict", JSON.stringify(cookies));
    assert.equal(await page.evaluate(() => document.cookie), "", "page scripts cannot read the token");

    await page.getByText("No containers. Run one from the Images view.").waitFor();
    await page.locator(".live .dot.on").waitFor();
    await page.screenshot({ path: `${artifacts}/containers-empty.png` });

    await page.getByRole("link", { name: /^Images/ }).click();
    const row = page.getByRole("row").filter({ hasText: "busybox" });
    await row.waitFor();
    assert.match(await row.innerText(), /latest/);
    await page.getByRole("searchbox", { name: "Search images" }).fill("nothing-like-it");
    await page.getByText("No image matches").waitFor();
    await page.getByRole("searchbox", { name: "Search images" }).fill("busy");
    await row.waitFor();
    await page.screenshot({ path: `${artifacts}/images.png` });

    // By keyboard: a row takes the focus, Enter opens it, Escape closes the dialog.
    await row.focus();
    await page.keyboard.press("Enter");
    await page.getByRole("dialog", { name: "busybox:latest" }).waitFor();
    await page.keyboard.press("Escape");
    await page.getByRole("dialog", { name: "busybox:latest" }).waitFor({ state: "detached" });
    await row.click();
    const details = page.getByRole("dialog", { name: "busybox:latest" });
    await details.getByRole("heading", { name: "Layers" }).waitFor();
    await details.getByRole("table", { name: "History" }).waitFor();
    await page.screenshot({ path: `${artifacts}/image-details.png` });
    await details.getByRole("button", { name: "Close dialog" }).click();

    await page.getByRole("button", { name: "Run busybox:latest" }).click();
    const run = page.getByRole("dialog", { name: "Run busybox:latest" });
    await run.getByLabel("Container name").fill("dash-web");
    await run.getByLabel(/^Ports/).fill(`127.0.0.1:${hostPort}:80`);
    await run.getByLabel(/^Environment/).fill("GREETING=hello-from-the-dashboard");
    await run
      .getByLabel(/^Command/)
      .fill(
        // The shell stays PID 1 and ends at SIGTERM, so Stop is quick.
        `sh -c 'trap "exit 0" TERM; mkdir -p /www && echo "$GREETING" > /www/index.html && echo serving; echo a-warning >&2; httpd -f -p 80 -h /www & wait'`,
      );
    await page.screenshot({ path: `${artifacts}/run-dialog.png` });
    await run.getByRole("button", { name: "Run", exact: true }).click();

    // The container's page: running, its logs with stderr marked.
    await page.getByRole("heading", { name: "dash-web" }).waitFor();
    await page.locator(".toolbar .badge.running").waitFor();
    const logs = page.getByRole("log", { name: "Logs" });
    await logs.getByText("serving").waitFor();
    await logs.locator(".line.stderr", { hasText: "a-warning" }).waitFor();
    await page.getByRole("searchbox", { name: "Search logs" }).fill("warn");
    await logs.locator(".line", { hasText: "serving" }).waitFor({ state: "detached" });
    await page.getByRole("searchbox", { name: "Search logs" }).fill("");
    await page.screenshot({ path: `${artifacts}/container-logs.png` });
    // A terminal into it: type a command, read its answer.
    await page.getByRole("tab", { name: "Terminal" }).click();
    await page.getByText("Connected", { exact: true }).waitFor();
    const screen = page.locator(".terminal .xterm-rows");
    await screen.getByText("#").first().waitFor();
    await page.keyboard.type("echo $((6*7)) > /tmp/answer; cat /tmp/answer; hostname\n");
    await screen.getByText(/^42\s*$/).waitFor();
    await page.screenshot({ path: `${artifacts}/terminal.png` });
    const processes = async () =>
      (await (await page.request.get(`${origin}/api/containers/dash-web/top`)).json()).Processes.map((p) => p.at(-1));
    assert.ok((await processes()).length >= 3, "the terminal's shell runs beside the container's shell and httpd");
    await page.getByRole("tab", { name: "Inspect" }).click();
    // Leaving the terminal hangs its shell up: only the container's shell and httpd are left.
    for (let i = 0; ; i++) {
      const left = await processes();
      if (left.length === 2 && left.some((c) => /httpd/.test(c))) break;
      assert.ok(i < 100, `the shell outlived its terminal: ${JSON.stringify(left)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await page.getByLabel("Inspect").getByText('"GREETING=hello-from-the-dashboard"').waitFor();

    // Live stats: figures and a chart that grows a point a second.
    await page.getByRole("tab", { name: "Stats" }).click();
    const cards = page.getByLabel("Stats");
    await cards.getByText(/^\d+\.\d\d %$/).waitFor();
    const line = cards.locator("svg[aria-label='CPU over the last minute'] polyline");
    // (An idle container's line is flat: attached, not "visible".)
    await line.waitFor({ state: "attached" });
    const points = async () => (await line.getAttribute("points")).split(" ").length;
    const first = await points();
    for (let i = 0; (await points()) <= first; i++) {
      assert.ok(i < 50, "the chart did not grow");
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(await cards.innerText(), /Processes\s+2/);
    await page.screenshot({ path: `${artifacts}/container-stats.png` });

    // Files: into /www, the page's file downloaded as it is in the container.
    await page.getByRole("tab", { name: "Files" }).click();
    await page.getByRole("button", { name: "Open folder www" }).click();
    await page.getByRole("button", { name: "www", exact: true }).waitFor();
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Download index.html" }).click(),
    ]);
    assert.equal(download.suggestedFilename(), "index.html");
    assert.equal(readFileSync(await download.path(), "utf8"), "hello-from-the-dashboard\n");
    await page.screenshot({ path: `${artifacts}/container-files.png` });

    // The list shows it running, with its port as a link that opens the app.
    await page.getByRole("link", { name: /^Containers/ }).click();
    const crow = page.getByRole("row").filter({ hasText: "dash-web" });
    await crow.locator(".badge.running").waitFor();
    await crow.getByText(/^\d+\.\d %$/).first().waitFor();
    const link = crow.getByRole("link", { name: new RegExp(`${hostPort}:80`) });
    assert.equal(await link.getAttribute("href"), `http://127.0.0.1:${hostPort}/`);
    await page.screenshot({ path: `${artifacts}/containers.png` });
    const [app] = await Promise.all([context.waitForEvent("page"), link.click()]);
    await app.waitForLoadState();
    assert.match(await app.locator("body").innerText(), /hello-from-the-dashboard/);
    await app.close();

    // Stop: the event stream turns the row to exited without a reload.
    await page.getByRole("button", { name: "Stop dash-web" }).click();
    await crow
      .locator(".badge.exited")
      .waitFor({ timeout: 30000 })
      .catch(async (e) => {
        // What the engine says, for whoever reads the failure.
        const get = async (p) => (await page.request.get(`${origin}${p}`)).text();
        const events = await get(`/api/events?since=0&until=${Math.ceil(Date.now() / 1000)}`);
        const mine = events.split("\n").filter((l) => l.includes("dash-web"));
        throw new Error(`${e.message}; containers: ${await get("/api/containers/json?all=1")}; events: ${mine.join(" ")}`);
      });
    await page.getByRole("button", { name: "Remove dash-web" }).click();
    await page.getByText("No containers. Run one from the Images view.").waitFor();

    // Volumes and networks.
    await page.getByRole("link", { name: /^Volumes/ }).click();
    await page.getByLabel("New volume name").fill("dash-data");
    await page.getByRole("button", { name: "Create volume" }).click();
    await page.getByRole("row").filter({ hasText: "dash-data" }).waitFor();
    await page.screenshot({ path: `${artifacts}/volumes.png` });
    await page.getByRole("button", { name: "Remove volume dash-data" }).click();
    await page.getByText("No volumes.").waitFor();
    await page.getByRole("link", { name: /^Networks/ }).click();
    await page.getByRole("row").filter({ hasText: "bridge" }).first().waitFor();
    await page.screenshot({ path: `${artifacts}/networks.png` });

    assert.deepEqual(errors, [], "no script errors on the page");
  } finally {
    await browser.close();
  }
});

test("tag an image, push it to a registry, remove it and pull it back with per-layer progress", async () => {
  const { browser, page, errors } = await openDashboard(url, 20000);
  try {
    const ref = `${registry}/team/bb:1`;
    await page.getByRole("link", { name: /^Images/ }).click();

    await page.getByRole("button", { name: "Tag busybox:latest" }).click();
    const tag = page.getByRole("dialog", { name: "Tag busybox:latest" });
    await tag.getByLabel(/^New tag/).fill(ref);
    await tag.getByRole("button", { name: "Tag", exact: true }).click();
    const row = page.getByRole("row").filter({ hasText: `${registry}/team/bb` });
    await row.waitFor();

    await page.getByRole("button", { name: `Push ${ref}` }).click();
    const push = page.getByRole("dialog", { name: `Push ${ref}` });
    await push.getByRole("button", { name: "Push", exact: true }).click();
    await push.getByRole("status").getByText("Done.").waitFor();
    const pushed = await push.getByLabel("Progress").innerText();
    assert.match(pushed, /Pushed/);
    assert.match(pushed, /digest: sha256:[0-9a-f]{64}/);
    await page.screenshot({ path: `${artifacts}/image-push.png` });
    await push.getByRole("button", { name: "Close", exact: true }).click();

    // Both names gone, so the pull has its layer to fetch.
    await page.getByRole("button", { name: `Remove ${ref}` }).click();
    await row.waitFor({ state: "detached" });
    await page.getByRole("button", { name: "Remove busybox:latest" }).click();
    await page.getByText("No images yet.").waitFor();

    await page.getByRole("button", { name: "Pull…" }).click();
    const pull = page.getByRole("dialog", { name: "Pull an image" });
    await pull.getByLabel(/^Image/).fill(ref);
    await pull.getByRole("button", { name: "Pull", exact: true }).click();
    await pull.getByRole("status").getByText("Done.").waitFor();
    const pulled = await pull.getByLabel("Progress").innerText();
    assert.match(pulled, /Pull complete/);
    assert.match(pulled, /Status: Downloaded newer image/);
    await page.screenshot({ path: `${artifacts}/image-pull.png` });
    await pull.getByRole("button", { name: "Close", exact: true }).click();
    await row.waitFor();

    // A pull of what the registry does not have says so.
    await page.getByRole("button", { name: "Pull…" }).click();
    const bad = page.getByRole("dialog", { name: "Pull an image" });
    await bad.getByLabel(/^Image/).fill(`${registry}/team/missing:1`);
    await bad.getByRole("button", { name: "Pull", exact: true }).click();
    await bad.getByRole("alert").waitFor();
    assert.match(await bad.getByRole("alert").innerText(), /not found|unknown|manifest/i);
    assert.deepEqual(errors, [], "no script errors on the page");
  } finally {
    await browser.close();
  }
});
