import path from "node:path";
import { allureCategories } from "./causes.ts";

// Where `npm run report` reads and writes, under one reports folder.
export type ReportPaths = { results: string; output: string; history: string; config: string };

// The paths of the HTML report built from `reports` (absolute, so the allure CLI's cwd does not matter).
export function reportPaths(reports: string): ReportPaths {
  const root = path.resolve(reports);
  return {
    results: path.join(root, "allure-results"),
    output: path.join(root, "allure-report"),
    // Outside the output folder, which each build replaces: one JSON line per run, for trends and a check's history.
    history: path.join(root, "allure-history.jsonl"),
    config: path.join(root, "allurerc.json"),
  };
}

// About 75 KiB a run for 55 checks: the last 50 runs are plenty for a trend, and the file stays small.
export const HISTORY_LIMIT = 50;

// The Allure 3 configuration (allurerc) of the report: one self-contained HTML page (opens from file:// with no
// server and no internet), the history of earlier runs (`history`: each run appended its own point, so a build
// appends none), failures grouped by cause, tests by suite (or "smoke").
export function allureConfig(paths: ReportPaths, name: string, history = paths.history) {
  return {
    name,
    output: paths.output,
    historyPath: history,
    appendHistory: false,
    historyLimit: HISTORY_LIMIT,
    categories: allureCategories(),
    plugins: {
      awesome: { options: { reportName: name, singleFile: true, reportLanguage: "en", groupBy: ["parentSuite"] } },
    },
  };
}

// The awesome page loads Google Analytics when opened (always on in allure 3.18's template): an audit record must
// not call out, and offline it would only fail. Removes that script tag and its inline set-up; returns the page.
export function stripAnalytics(html: string): string {
  return html
    .replace(/<script async src="https:\/\/www\.googletagmanager\.com\/gtag\/js[^"]*"><\/script>\s*/g, "")
    .replace(/<script>\s*window\.dataLayer = window\.dataLayer \|\| \[\];[\s\S]*?<\/script>\s*/g, "");
}
