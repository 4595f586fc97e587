// `npm run screenshot [reports-dir]`: builds the HTML report of a run (default reports/demo, what `npm run demo`
// leaves) and saves what a browser shows of it as docs/report-screenshot.png, the picture in the README.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { buildReport } from "./report.ts";

const CHROMIUM = "/usr/bin/chromium";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
const OUT = path.join(import.meta.dirname, "..", "docs", "report-screenshot.png");

async function main(reports: string) {
  const page = await buildReport(reports);
  const profile = mkdtempSync(path.join(tmpdir(), "ddv-chromium-"));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1400, height: 900 },
  });
  try {
    const tab = await browser.newPage();
    await tab.goto(`file://${page}`, { waitUntil: "domcontentloaded", timeout: 120_000 });
    await tab
      .getByText(/^Total/)
      .first()
      .waitFor({ timeout: 120_000 });
    await tab.waitForTimeout(1000); // charts animate in
    await tab.screenshot({ path: OUT });
    process.stdout.write(`screenshot of ${page}: ${OUT}\n`);
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

main(process.argv[2] ?? "reports/demo").catch((err: unknown) => {
  process.stderr.write(`screenshot: ${(err as Error).message.split("\n")[0]}\n`);
  process.exit(1);
});
