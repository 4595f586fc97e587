import { randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Reporter, SerializedError, TestModule, TestRunEndReason } from "vitest/node";
import { recordRun, type RunOutcome } from "../history/record.ts";
import { changesJson, changesText } from "../history/render.ts";
import { historyDir, historyEnabled, historyKeep } from "../history/state-dir.ts";
import { takePending } from "../history/store.ts";
import { readRun } from "../report/run-record.ts";

export type HistoryReporterOptions = { dir: string; id: string };

// The run's verdict as the exit code has it, and its failing checks.
export function runOutcome(
  id: string,
  startedAt: string,
  modules: ReadonlyArray<TestModule>,
  errors: ReadonlyArray<unknown>,
  reason: TestRunEndReason,
): RunOutcome {
  const tests = modules.flatMap((m) => [...m.children.allTests()]);
  const failing = tests.filter((t) => t.result().state === "failed").flatMap((t) => (t.meta().checkId ? [t.meta().checkId as string] : []));
  const judged = tests.some((t) => t.meta().status !== undefined);
  const red = errors.length > 0 || !judged || modules.some((m) => m.state() === "failed") || tests.some((t) => t.result().state === "failed");
  return { id, startedAt, verdict: reason === "interrupted" ? "interrupted" : red ? "red" : "green", failing: [...new Set(failing)] };
}

// Records the run in the history (the fingerprint the worker handed over) and, on a red run, says what changed since
// the last green run: in the terminal, reports/changes.json (which the JUnit reporter reads for its system-out) and
// the Allure results (a global attachment). Synchronous up to its end: reporters after it in the list read its files.
export default class HistoryReporter implements Reporter {
  constructor(private readonly o: HistoryReporterOptions) {}

  onTestRunEnd(modules: ReadonlyArray<TestModule>, errors: ReadonlyArray<SerializedError>, reason: TestRunEndReason) {
    if (!historyEnabled()) return;
    const state = historyDir();
    const started = performance.now();
    try {
      const fp = takePending(state, this.o.id);
      if (!fp) return; // the worker kept none (a fleet run, not the deployment's host) or said why
      const run = runOutcome(this.o.id, readRun(this.o.dir)?.startedAt ?? new Date().toISOString(), modules, errors, reason);
      const entry = recordRun(state, run, fp, historyKeep());
      const text = changesText(entry, state);
      // costMs: what the history cost this run (the worker's gathering, this reporter's recording), for the bench.
      const costMs = { gather: fp.gatherMs, record: Math.round(performance.now() - started) };
      writeFileSync(path.join(this.o.dir, "changes.json"), `${JSON.stringify({ ...changesJson(entry, state), text, costMs }, null, 2)}\n`);
      if (entry.verdict !== "red") return;
      process.stdout.write(`\n${text}\n\n`);
      writeAllureGlobals(path.join(this.o.dir, "allure-results"), text);
    } catch (err) {
      process.stderr.write(`ddv: the run history could not be kept in ${state}: ${(err as Error).message}\n`);
    }
  }
}

// A section of its own in the Allure report: a global attachment (allure-js-commons' globals file, read by Allure 3).
function writeAllureGlobals(results: string, text: string) {
  mkdirSync(results, { recursive: true });
  const source = `${randomUUID()}-attachment.txt`;
  writeFileSync(path.join(results, source), `${text}\n`);
  const globals = { attachments: [{ name: "Changed since the last green run", source, type: "text/plain", timestamp: Date.now() }], errors: [] };
  writeFileSync(path.join(results, `${randomUUID()}-globals.json`), JSON.stringify(globals));
}
