// The dashboard's Builds view in Chromium: crates/cli/tests/dashboard.rs builds CONTEXT once
// with `berth build -t built:1`; this finds that build in the history, builds the same
// directory again from the page (every step but FROM now cached) and reads its steps.
//
// Usage: node builds.test.mjs URL-WITH-TOKEN ARTIFACTS-DIR CONTEXT-DIR
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { openDashboard } from "./browser.mjs";

const [url, artifacts, context] = process.argv.slice(2);
if (!url || !context || !artifacts) {
  console.error("usage: node builds.test.mjs URL-WITH-TOKEN ARTIFACTS-DIR CONTEXT-DIR");
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });

test("the history shows the CLI's build; a build started here is recorded with its cache hits", async () => {
  const { browser, page, errors } = await openDashboard(url, 30000);
  try {
    await page.getByRole("link", { name: /^Builds/ }).click();
    const first = page.getByRole("row").filter({ hasText: "built:1" });
    await first.waitFor();
    assert.match(await first.innerText(), /succeeded/);
    assert.match(await first.innerText(), /3 \(0 cached\)/);

    await page.getByRole("button", { name: "Build…" }).click();
    const dialog = page.getByRole("dialog", { name: "Start a build" });
    await dialog.getByLabel(/^Context/).fill("/no/such/dir");
    await dialog.getByRole("button", { name: "Build", exact: true }).click();
    await dialog.getByRole("alert").getByText(/contextpath/).waitFor();

    await dialog.getByLabel(/^Context/).fill(context);
    await dialog.getByLabel(/^Tag/).fill("built:2");
    await dialog.getByRole("button", { name: "Build", exact: true }).click();
    await dialog.getByRole("status").getByText("Built.").waitFor();
    assert.match(await dialog.getByLabel("Build output").innerText(), /Successfully tagged built:2/);
    await dialog.getByRole("button", { name: "Close", exact: true }).click();

    const second = page.getByRole("row").filter({ hasText: "built:2" });
    await second.waitFor();
    assert.match(await second.innerText(), /3 \(2 cached\)/);
    await page.screenshot({ path: `${artifacts}/builds.png` });
    await second.click();
    const details = page.getByRole("dialog", { name: "Build built:2" });
    const steps = details.getByLabel("Steps");
    await steps.waitFor();
    assert.equal(await steps.locator("li").count(), 3);
    assert.equal(await steps.getByText("CACHED").count(), 2);
    assert.match(await steps.innerText(), /1\/3 FROM busybox/);
    assert.match(await steps.innerText(), /RUN echo step-output-here/);
    await page.screenshot({ path: `${artifacts}/build-details.png` });
    assert.deepEqual(errors, [], "no script errors on the page");
  } finally {
    await browser.close();
  }
});
