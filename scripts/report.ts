// `npm run report`: builds the Allure 3 HTML report of the last validator run, offline, keeping history across
// builds, and prints the report's path. Reads $DDV_REPORTS_DIR (default reports/), like the validator writes it.
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseEnvInfo } from "allure-js-commons/sdk/reporter";
import { execa } from "execa";
import { allureConfig, reportPaths, stripAnalytics } from "../src/report/allure-config.ts";
import { reportsDir } from "../src/report/paths.ts";

const REPO = path.join(import.meta.dirname, "..");

// The built report's page: with the awesome plugin alone Allure writes it at the output's root.
export function reportPage(output: string): string {
  const nested = path.join(output, "awesome", "index.html");
  return existsSync(nested) ? nested : path.join(output, "index.html");
}

// Builds the report from `reports`; returns the page's absolute path. Throws with a one-line reason.
export async function buildReport(reports = reportsDir()): Promise<string> {
  const paths = reportPaths(path.resolve(REPO, reports));
  if (!existsSync(paths.results) || !readdirSync(paths.results).some((f) => f.endsWith("-result.json"))) {
    throw new Error(`no validator results in ${paths.results}: run the validator first (npx vitest run)`);
  }
  // The report is named after the host the results are about.
  const envFile = path.join(paths.results, "environment.properties");
  const host = existsSync(envFile) ? parseEnvInfo(readFileSync(envFile, "utf8"))["Host name"] : undefined;
  writeFileSync(paths.config, `${JSON.stringify(allureConfig(paths, `Deploy validation${host ? ` of ${host}` : ""}`), null, 2)}\n`);
  // The last remediation's results (written beside, since the validator's next run cleans allure-results).
  const remediation = path.join(path.dirname(paths.results), "remediation-results");
  const dirs = existsSync(remediation) ? [paths.results, remediation] : [paths.results];
  const r = await execa("allure", ["generate", "--config", paths.config, "--cwd", REPO, ...dirs], {
    cwd: REPO,
    preferLocal: true,
    localDir: REPO,
    reject: false,
    all: true,
    timeout: 300_000,
    env: { NO_COLOR: "1" },
  });
  if (r.exitCode !== 0) throw new Error(`allure generate failed (exit ${r.exitCode}): ${String(r.all).trim().split("\n").slice(-5).join(" | ")}`);
  const page = reportPage(paths.output);
  if (!existsSync(page)) throw new Error(`allure generate wrote no report page (looked for ${page})`);
  writeFileSync(page, stripAnalytics(readFileSync(page, "utf8")));
  return page;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  buildReport(process.argv[2]).then(
    (page) => process.stdout.write(`Allure report: ${page}\n`),
    (err: unknown) => {
      process.stderr.write(`report: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
