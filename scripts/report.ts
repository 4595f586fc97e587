// `npm run report`: builds the Allure 3 HTML report of the last validator run, offline, with the history of the runs
// before it (trend, each check's history), and prints the report's path. Reads $DDV_REPORTS_DIR (default reports/), like the validator writes it.
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseEnvInfo } from "allure-js-commons/sdk/reporter";
import { execa } from "execa";
import { allureConfig, reportPaths, stripAnalytics } from "../src/report/allure-config.ts";
import { appendRunHistory, historyBefore, splitHistory } from "../src/report/allure-history.ts";
import { remediationFolders } from "../src/remediation/allure.ts";
import { foldKeptRuns } from "../src/report/allure-runs.ts";
import { reportsDir } from "../src/report/paths.ts";
import { readRun, staleRunProblem } from "../src/report/run-record.ts";

const REPO = path.join(import.meta.dirname, "..");

// The built report's page: with the awesome plugin alone Allure writes it at the output's root.
export function reportPage(output: string): string {
  const nested = path.join(output, "awesome", "index.html");
  return existsSync(nested) ? nested : path.join(output, "index.html");
}

// The id of the run whose results `reports` holds; throws unless it is the last run that folder's run.json records.
export function reportedRun(reports = reportsDir()): string | undefined {
  const dir = path.resolve(REPO, reports);
  const { results } = reportPaths(dir);
  const last = readRun(dir);
  const names = existsSync(results) ? readdirSync(results).filter((f) => f.endsWith("-result.json")) : [];
  if (!names.length) {
    const why = last?.state.startsWith("stopped") ? `the last run ${last.id} ${last.state}` : "run the validator first (npx vitest run)";
    throw new Error(`no validator results in ${results}: ${why}`);
  }
  const label = (f: string) => (JSON.parse(readFileSync(path.join(results, f), "utf8")) as { labels?: Array<{ name: string; value: string }> }).labels;
  const ids = [...new Set(names.map((f) => label(f)?.find((l) => l.name === "run_id")?.value))];
  if (ids.length > 1) throw new Error(`${results} mixes results of ${ids.length} runs (${ids.map((x) => x ?? "no id").join(", ")})`);
  const problem = staleRunProblem(`the results in ${results}`, ids[0], last);
  if (problem) throw new Error(problem);
  return ids[0];
}

// Builds the report from `reports`; returns the page's absolute path. Throws with a one-line reason.
export async function buildReport(reports = reportsDir()): Promise<string> {
  const paths = reportPaths(path.resolve(REPO, reports));
  const id = reportedRun(reports) ?? "unknown";
  // The report is named after the host the results are about.
  const envFile = path.join(paths.results, "environment.properties");
  const host = existsSync(envFile) ? parseEnvInfo(readFileSync(envFile, "utf8"))["Host name"] : undefined;
  // Each run kept its results (reports/allure-runs): they become history points now, oldest first; a run that kept
  // none (an older validator's) gets its point from its results. The report is built with the points before it, so
  // the run is not counted twice.
  await foldKeptRuns(paths.history);
  if (!splitHistory(paths.history, id).mine.length) await appendRunHistory(paths.results, paths.history, id);
  const before = path.join(path.dirname(paths.history), ".allure-history.before.jsonl");
  historyBefore(paths.history, id, before);
  writeFileSync(paths.config, `${JSON.stringify(allureConfig(paths, `Deploy validation${host ? ` of ${host}` : ""}`, before), null, 2)}\n`);
  // The last remediation's results (written beside, since the validator's next run cleans allure-results).
  const dirs = [paths.results, ...remediationFolders(path.join(path.dirname(paths.results), "remediation-results"))];
  const r = await execa("allure", ["generate", "--config", paths.config, "--cwd", REPO, ...dirs], {
    cwd: REPO,
    preferLocal: true,
    localDir: REPO,
    reject: false,
    all: true,
    timeout: 300_000,
    env: { NO_COLOR: "1" },
  });
  rmSync(before, { force: true });
  if (r.exitCode !== 0) throw new Error(`allure generate failed (exit ${r.exitCode}): ${String(r.all).trim().split("\n").slice(-5).join(" | ")}`);
  const page = reportPage(paths.output);
  if (!existsSync(page)) throw new Error(`allure generate wrote no report page (looked for ${page})`);
  writeFileSync(page, stripAnalytics(readFileSync(page, "utf8")));
  return page;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  // Names the run it reports (checked again by buildReport, which other scripts call).
  const main = async (reports?: string) => {
    const id = reportedRun(reports);
    return `Allure report${id ? ` of run ${id}` : ""}: ${await buildReport(reports)}`;
  };
  main(process.argv[2]).then(
    (line) => process.stdout.write(`${line}\n`),
    (err: unknown) => {
      process.stderr.write(`report: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
