import path from "node:path";

// Where a run's reports go: $DDV_REPORTS_DIR (each e2e host run has its own), else reports/ (relative to cwd).
export function reportsDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DDV_REPORTS_DIR ?? "reports";
}

// The run's Allure results folder.
export function allureResultsDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(reportsDir(env), "allure-results");
}
