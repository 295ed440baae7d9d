// The dashboard checked with axe-core (Deque's accessibility engine, the one browsers'
// developer tools use) in Chromium: every main view, with something in it, and the image
// details and Run dialogs, against WCAG 2.1 A and AA; and the notifications a screen reader
// reads out. crates/cli/tests/dashboard.rs runs it
// on a store with the busybox image, a container, a volume and a network.
//
// Usage: node accessibility.test.mjs URL-WITH-TOKEN ARTIFACTS-DIR
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { openDashboard } from "./browser.mjs";

const [url] = process.argv.slice(2);
if (!url) {
  console.error("usage: node accessibility.test.mjs URL-WITH-TOKEN ARTIFACTS-DIR");
  process.exit(2);
}
const axePath = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

/// The violations axe finds on the page as it is now, one line each.
async function audit(page, what) {
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(() =>
    globalThis.axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
    }),
  );
  return result.violations.map(
    (v) =>
      `${what}: ${v.id} (${v.impact}): ${v.help} — ${v.nodes
        .slice(0, 3)
        .map((n) => n.target.join(" "))
        .join(", ")}`,
  );
}

test("every view and dialog passes axe's WCAG 2.1 A and AA rules", async () => {
  // The page's Content-Security-Policy forbids injected scripts: lifted for axe's only.
  const { browser, page, errors } = await openDashboard(url, 15000, { bypassCSP: true });
  try {
    const found = [];
    // Light and dark (the page follows the system's scheme).
    for (const scheme of ["light", "dark"]) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const view of ["Containers", "Compose", "Images", "Builds", "Volumes", "Networks"]) {
        await page.getByRole("link", { name: new RegExp(`^${view}`) }).click();
        await page.getByRole("heading", { name: view, level: 1 }).waitFor();
        // Wait for the view's content (a table row, or its empty state).
        await page.getByText("Loading…").waitFor({ state: "detached" });
        await page.locator("main table tbody tr, main .empty").first().waitFor();
        found.push(...(await audit(page, `${view} (${scheme})`)));
      }
    }
    await page.getByRole("link", { name: /^Images/ }).click();
    const row = page.getByRole("row").filter({ hasText: "busybox" });
    await row.click();
    const details = page.getByRole("dialog", { name: "busybox:latest" });
    await details.getByRole("heading", { name: "Layers" }).waitFor();
    found.push(...(await audit(page, "image details")));
    await page.keyboard.press("Escape");
    await details.waitFor({ state: "detached" });
    await row.getByRole("button", { name: /Run/ }).click();
    await page.getByRole("dialog", { name: /^Run/ }).waitFor();
    found.push(...(await audit(page, "run dialog")));
    assert.deepEqual(found, []);
    // What happens is said in a polite live region as the engine's events come, whoever
    // caused it (here the page; the CLI alike).
    await page.keyboard.press("Escape");
    await page.getByRole("link", { name: /^Containers/ }).click();
    const notices = page.getByRole("status", { name: "Notifications" });
    await page.getByRole("button", { name: "Pause a11y-web" }).click();
    await notices.getByText("Container a11y-web paused").waitFor();
    await page.getByRole("button", { name: "Resume a11y-web" }).click();
    await notices.getByText("Container a11y-web resumed").waitFor();
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
