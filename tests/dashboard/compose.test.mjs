// The dashboard's Compose view in Chromium: crates/cli/tests/dashboard.rs brings a project
// up with `berth compose up -d`, then this stops it, brings it up again and takes it down
// from the page.
//
// Usage: node compose.test.mjs URL-WITH-TOKEN ARTIFACTS-DIR PROJECT
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { openDashboard } from "./browser.mjs";

const [url, artifacts, project] = process.argv.slice(2);
if (!url || !project || !artifacts) {
  console.error("usage: node compose.test.mjs URL-WITH-TOKEN ARTIFACTS-DIR PROJECT");
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });

test("a project's services are shown together; stop, up and down act on all of them", async () => {
  const { browser, page, errors } = await openDashboard(url, 30000);
  try {
    await page.getByRole("link", { name: /^Compose/ }).click();
    const card = page.getByRole("article", { name: `Project ${project}` });
    const rows = card.getByRole("table").locator("tbody tr");
    await card.waitFor();
    await rows.nth(1).waitFor();
    assert.equal(await rows.count(), 2);
    const text = await card.innerText();
    assert.match(text, /web/);
    assert.match(text, /cache/);
    assert.equal(await card.locator(".badge.running").count(), 2);
    await page.screenshot({ path: `${artifacts}/compose.png` });

    await card.getByRole("button", { name: `Stop project ${project}` }).click();
    await card.locator(".badge.running").first().waitFor({ state: "detached" });
    assert.equal(await card.locator(".badge.exited").count(), 2);

    await card.getByRole("button", { name: `Up project ${project}` }).click();
    await card.locator(".badge.running").nth(1).waitFor();

    await card.getByRole("button", { name: `Down project ${project}` }).click();
    await card.waitFor({ state: "detached" });
    await page.getByText("No Compose projects.").waitFor();
    assert.deepEqual(errors, [], "no script errors on the page");
  } finally {
    await browser.close();
  }
});
