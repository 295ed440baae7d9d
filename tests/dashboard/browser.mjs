// Debian's Chromium through playwright-core, as every browser test opens it: a page with the
// dashboard's URL loaded, confirm dialogs accepted, script errors collected.
import { chromium } from "playwright-core";

export async function openDashboard(url, timeout = 15000, contextOptions = {}) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu"],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...contextOptions });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("dialog", (d) => d.accept());
  page.setDefaultTimeout(timeout);
  await page.goto(url);
  return { browser, context, page, errors };
}
