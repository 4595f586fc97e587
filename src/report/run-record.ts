import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";

// One validator run as <reports>/run.json records it: the reports beside it are this run's and only this run's.
// state: "started" (running, or killed), "finished", "interrupted" (Ctrl-C), "stopped before checking: <why>".
export type RunRecord = { id: string; startedAt: string; argv: string[]; state: string };

// The files a run writes in its reports folder (remediation-results is remediate's own and survives a run).
const RUN_OUTPUTS = ["vitest-report.json", "junit.xml", "allure-results", "changes.json"];
const runFile = (dir: string) => path.join(dir, "run.json");
const write = (dir: string, r: RunRecord) => writeFileSync(runFile(dir), `${JSON.stringify(r, null, 2)}\n`);

// A new run's id: its UTC start to the second (ids sort as runs do), and 4 hex digits for two runs in one second.
export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]|\.\d+/g, "")}-${randomBytes(2).toString("hex")}`;
}

// Clears the previous run's reports in `dir` and records this run as started (before any reporter opens its file).
export function startRun(dir: string, id: string, argv: string[], now = new Date()): void {
  mkdirSync(dir, { recursive: true });
  for (const f of RUN_OUTPUTS) rmSync(path.join(dir, f), { recursive: true, force: true });
  write(dir, { id, startedAt: now.toISOString(), argv, state: "started" });
}

// Records how run `id` ended; a record of another run (or none: a config without our reporters) is left alone.
export function endRun(dir: string, id: string, state: string): boolean {
  const r = readRun(dir);
  if (r?.id === id) write(dir, { ...r, state });
  return r?.id === id;
}

// A run that stopped before any check (bad config, inventory): run.json and junit.xml say why, for people and CI.
export function stopRun(dir: string, id: string | undefined, why: string): void {
  if (!id || !endRun(dir, id, `stopped before checking: ${why}`)) return;
  const esc = (s: string) => s.replace(/[<>&"]/g, (c) => `&${{ "<": "lt", ">": "gt", "&": "amp", '"': "quot" }[c]};`);
  const e = `<error message="${esc(why)}" type="StoppedBeforeChecking"/>`;
  const xml =
    `<?xml version="1.0" encoding="UTF-8" ?>\n<testsuites name="django-deploy-validator" tests="1" failures="0" errors="1">\n` +
    `  <testsuite name="run ${id}" tests="1" failures="0" errors="1" skipped="0">\n` +
    `    <testcase classname="run" name="stopped before checking">${e}</testcase>\n  </testsuite>\n</testsuites>\n`;
  writeFileSync(path.join(dir, "junit.xml"), xml);
}

// <dir>/run.json, or undefined where there is none (reports of an older validator, or copied elsewhere).
export function readRun(dir: string): RunRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(runFile(dir), "utf8")) as RunRecord;
    return typeof r.id === "string" && typeof r.state === "string" ? r : undefined;
  } catch {
    return undefined;
  }
}

// The run record beside a report: a reports folder's, a report file's folder's, or an allure-results folder's parent's.
export function runNear(report: string): RunRecord | undefined {
  const dir = existsSync(report) && statSync(report).isDirectory() ? report : path.dirname(report);
  return readRun(dir) ?? (path.basename(dir) === "allure-results" ? readRun(path.dirname(dir)) : undefined);
}

// How a run is named in messages: its id, start and state.
export function describeRun(r: RunRecord): string {
  return `run ${r.id} (started ${r.startedAt}, ${r.state})`;
}

// Why `what` (results of run `id`) is not the last run's whole report; undefined when it is, or when nothing says.
export function staleRunProblem(what: string, id: string | undefined, last: RunRecord | undefined): string | undefined {
  if (!last) return undefined;
  if (last.state.startsWith("stopped"))
    return `the last run ${last.id} (started ${last.startedAt}) ${last.state}; ${what} is not from it: fix that and run again`;
  if (id !== last.id)
    return (
      `${what} is from ${id ? `run ${id}` : "a run with no id"}, not from the last ${describeRun(last)}: ` +
      "use that run's reports, or run the validator again"
    );
  if (last.state === "started") return `${what} is from run ${id}, which has not finished (still running, or killed): its reports are partial`;
  return undefined;
}
