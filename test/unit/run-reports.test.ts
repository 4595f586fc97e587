import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, expect, test } from "vitest";
import { reportedRun } from "../../scripts/report.ts";
import { EXIT } from "../../src/remediation/errors.ts";
import { readReport } from "../../src/remediation/report.ts";
import { type RunRecord, readRun } from "../../src/report/run-record.ts";

// One run, one set of reports: the real validator (`npx vitest run`, its own process) writes each run's JSON, JUnit,
// Allure results and run.json into its own DDV_REPORTS_DIR; nothing here needs a deployed app (checks error or fail).
const REPO = path.join(import.meta.dirname, "..", "..");
const dir = mkdtempSync(path.join(tmpdir(), "ddv-run-reports-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const badConfig = path.join(dir, "bad.json");
writeFileSync(badConfig, "{");

// Not this test run's own vitest settings (its worker, pool, env): a clean child, as a user would start it.
const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("VITEST") && k !== "NODE_ENV" && k !== "TEST"));
function validate(reports: string, args: string[], env: Record<string, string> = {}) {
  return execa("npx", ["vitest", "run", ...args], {
    cwd: REPO,
    reject: false,
    stdin: "ignore",
    timeout: 240_000,
    extendEnv: false,
    env: { ...clean, NO_COLOR: "1", DDV_REPORTS_DIR: reports, npm_config_update_notifier: "false", ...env },
  });
}

type Json = { testResults: Array<{ name: string; assertionResults: Array<{ meta: { runId?: string } }> }> };
const json = (reports: string) => JSON.parse(readFileSync(path.join(reports, "vitest-report.json"), "utf8")) as Json;
const jsonRuns = (reports: string) => new Set(json(reports).testResults.flatMap((f) => f.assertionResults.map((a) => a.meta.runId)));
const allureRuns = (reports: string) => {
  const res = path.join(reports, "allure-results");
  const labels = (f: string) => (JSON.parse(readFileSync(path.join(res, f), "utf8")) as { labels: Array<{ name: string; value: string }> }).labels;
  const names = readdirSync(res).filter((f) => f.endsWith("-result.json"));
  return { count: names.length, runs: new Set(names.map((f) => labels(f).find((l) => l.name === "run_id")?.value)) };
};
const refusal = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return { code: (err as { exitCode?: number }).exitCode, message: (err as Error).message };
  }
  throw new Error("accepted");
};

test.concurrent("a run stopped by a bad config leaves no report of the run before; report and remediate say why", async () => {
  const reports = path.join(dir, "stopped");
  await validate(reports, ["specs/smoke"]);
  const before = readRun(reports) as RunRecord;
  expect(before.state).toBe("finished");
  const r = await validate(reports, ["specs/smoke"], { DEPLOY_CONFIG: badConfig });
  expect(r.exitCode, r.stderr).toBe(EXIT.config);
  const run = readRun(reports) as RunRecord;
  expect(run.id).not.toBe(before.id);
  expect(run.state).toMatch(/^stopped before checking: config file .*bad\.json is not valid JSON/);
  expect(existsSync(path.join(reports, "vitest-report.json"))).toBe(false);
  expect(existsSync(path.join(reports, "allure-results"))).toBe(false);
  expect(readFileSync(path.join(reports, "junit.xml"), "utf8")).toMatch(/errors="1"[\s\S]*<error message="config file .*bad\.json is not valid JSON/);
  for (const p of [reports, path.join(reports, "vitest-report.json")]) {
    const refused = refusal(() => readReport(p));
    expect(refused.code).toBe(EXIT.badReport);
    expect(refused.message).toContain(`the last run ${run.id} stopped before checking: config file`);
  }
  expect(() => reportedRun(reports)).toThrow(`the last run ${run.id} stopped before checking: config file`);
});

test.concurrent("a report of an earlier run is refused, naming both runs; the last run's is read with its id", async () => {
  const reports = path.join(dir, "stale");
  await validate(reports, ["specs/smoke"]);
  const first = readRun(reports) as RunRecord;
  copyFileSync(path.join(reports, "vitest-report.json"), path.join(dir, "first.json"));
  await validate(reports, ["specs/smoke"]);
  const last = readRun(reports) as RunRecord;
  expect(readReport(reports).runId).toBe(last.id);
  expect(reportedRun(reports)).toBe(last.id);
  copyFileSync(path.join(dir, "first.json"), path.join(reports, "vitest-report.json"));
  const refused = refusal(() => readReport(reports));
  expect(refused.code).toBe(EXIT.badReport);
  expect(refused.message).toContain(`is from run ${first.id}, not from the last run ${last.id} (started ${last.startedAt}, finished)`);
});

test.concurrent("--reporter=junit adds to the project's reporters: JSON, JUnit and Allure all describe this run", async () => {
  const reports = path.join(dir, "reporter");
  const r = await validate(reports, ["specs/smoke", "--reporter=junit"]);
  expect(r.stdout).toContain("<testsuites"); // the user's junit, on stdout as vitest writes it without --outputFile
  const run = readRun(reports) as RunRecord;
  expect(run.state).toBe("finished");
  expect(jsonRuns(reports)).toEqual(new Set([run.id]));
  const allure = allureRuns(reports);
  expect(allure.count).toBeGreaterThan(0);
  expect(allure.runs).toEqual(new Set([run.id]));
  expect(readFileSync(path.join(reports, "junit.xml"), "utf8")).toContain('<testsuites name="django-deploy-validator"');
});

test.concurrent("--outputFile: refused alone (64, before anything is written), honoured for a reporter the user adds", async () => {
  const reports = path.join(dir, "output-file");
  const refused = await validate(reports, ["specs/smoke", `--outputFile=${path.join(reports, "x.json")}`]);
  expect(refused.exitCode).toBe(EXIT.usage);
  expect(refused.stderr).toContain("ddv: --outputFile applies to a reporter you add with --reporter");
  expect(existsSync(path.join(reports, "run.json"))).toBe(false);
  const ci = path.join(dir, "ci-junit.xml");
  await validate(reports, ["specs/smoke", "--reporter=junit", `--outputFile=${ci}`]);
  expect(readFileSync(ci, "utf8")).toContain("<testsuites");
  expect(jsonRuns(reports)).toEqual(new Set([readRun(reports)?.id]));
});

test.concurrent("a suite's name filters as in vitest: `npx vitest run smoke` runs the smoke gate", async () => {
  const reports = path.join(dir, "smoke");
  const r = await validate(reports, ["smoke"]);
  expect(r.stdout).not.toContain("No test files found");
  expect(json(reports).testResults.map((f) => path.relative(REPO, f.name))).toEqual(["specs/smoke/smoke.spec.ts"]);
});
