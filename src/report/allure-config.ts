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
    // Outside the output folder, which each build replaces: one JSON line per build, for trends and a check's history.
    history: path.join(root, "allure-history.jsonl"),
    config: path.join(root, "allurerc.json"),
  };
}

// The Allure 3 configuration (allurerc) of the report: one self-contained HTML page (opens from file:// with no
// server and no internet), history kept across builds, failures grouped by cause, tests by suite (or "smoke").
export function allureConfig(paths: ReportPaths, name: string) {
  return {
    name,
    output: paths.output,
    historyPath: paths.history,
    // About 75 KiB a build for 55 checks: the last 50 builds are plenty for a trend, and the file stays small.
    historyLimit: 50,
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
