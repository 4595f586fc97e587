import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { readReport } from "../../src/remediation/report.ts";
import { endRun, newRunId, readRun, startRun, staleRunProblem, stopRun } from "../../src/report/run-record.ts";
import { keepReporters, type ReporterEntry } from "../../src/vitest-adapter/keep-reporters.ts";
import { selectRun } from "../../src/vitest-adapter/run-selection.ts";
import { allPass, vitestReport, writeVitest } from "./remediation-fixtures.ts";

// reports/run.json and what reads it, without a vitest run (run-reports.test.ts runs the real one).
const REPO = path.join(import.meta.dirname, "..", "..");
const dir = mkdtempSync(path.join(tmpdir(), "ddv-run-record-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("run.json", () => {
  test("a run clears the previous run's reports (not remediate's) and records how it ended", () => {
    const d = path.join(dir, "clear");
    for (const f of ["allure-results", "remediation-results"]) mkdirSync(path.join(d, f), { recursive: true });
    for (const f of ["vitest-report.json", "junit.xml", "allure-results/a-result.json", "remediation-results/b-result.json"])
      writeFileSync(path.join(d, f), "{}");
    startRun(d, "R1", ["run", "smoke"], new Date("2026-01-02T03:04:05Z"));
    expect(readRun(d)).toEqual({ id: "R1", startedAt: "2026-01-02T03:04:05.000Z", argv: ["run", "smoke"], state: "started" });
    expect(() => readFileSync(path.join(d, "vitest-report.json"))).toThrow();
    expect(() => readFileSync(path.join(d, "allure-results/a-result.json"))).toThrow();
    expect(readFileSync(path.join(d, "remediation-results/b-result.json"), "utf8")).toBe("{}");
    expect(endRun(d, "other", "finished")).toBe(false);
    expect(readRun(d)?.state).toBe("started");
    stopRun(d, "R1", 'bad "x" <y>');
    expect(readRun(d)?.state).toBe('stopped before checking: bad "x" <y>');
    expect(readFileSync(path.join(d, "junit.xml"), "utf8")).toContain('<error message="bad &quot;x&quot; &lt;y&gt;" type="StoppedBeforeChecking"/>');
  });

  test("ids sort as runs start", () => {
    expect(newRunId(new Date("2026-01-02T03:04:05.678Z"))).toMatch(/^20260102T030405Z-[0-9a-f]{4}$/);
  });

  test("a report is the last run's only when the ids match and the run ended", () => {
    const last = { id: "B", startedAt: "t", argv: [], state: "finished" };
    expect(staleRunProblem("r", "B", last)).toBeUndefined();
    expect(staleRunProblem("r", "A", undefined)).toBeUndefined();
    expect(staleRunProblem("r", "A", last)).toBe(
      "r is from run A, not from the last run B (started t, finished): use that run's reports, or run the validator again",
    );
    expect(staleRunProblem("r", undefined, last)).toContain("r is from a run with no id");
    expect(staleRunProblem("r", "B", { ...last, state: "started" })).toContain("has not finished");
    expect(staleRunProblem("r", "A", { ...last, state: "stopped before checking: bad" })).toContain("the last run B (started t) stopped before checking: bad");
  });

  test("remediate reads the run's id from a report and refuses one older than run.json's run (65)", () => {
    const report = vitestReport(allPass());
    for (const t of report.testResults) for (const a of t.assertionResults) Object.assign(a.meta, { runId: "A" });
    const d = writeVitest(dir, "remediate", report);
    expect(readReport(d).runId).toBe("A");
    writeFileSync(path.join(d, "run.json"), JSON.stringify({ id: "B", startedAt: "t", argv: [], state: "finished" }));
    expect(() => readReport(d)).toThrow(expect.objectContaining({ exitCode: 65, message: expect.stringContaining("is from run A, not from the last run B") }));
  });
});

describe("the run's command line", () => {
  test("a bare suite name asks for the smoke gate; a filter matching every spec is a full run, without it", () => {
    expect(selectRun(["run", "smoke"], REPO).suites).toEqual(["smoke"]);
    expect(selectRun(["run", "specs"], REPO).suites).not.toContain("smoke");
    expect(selectRun(["run", "specs"], REPO).suites.length).toBeGreaterThan(3);
    expect(selectRun(["run", "--outputFile.json", "smoke", "http"], REPO).suites).toEqual(["http"]);
  });
});

describe("keepReporters", () => {
  const ours: ReporterEntry[] = [
    ["./run.ts", { id: "R" }],
    ["json", { outputFile: "reports/vitest-report.json" }],
  ];
  const configure = (reporters: unknown[], outputFile?: string) => {
    const vitest = { config: { reporters, outputFile } };
    (keepReporters(ours, "reports").configureVitest as (c: unknown) => void)({ vitest });
    return vitest.config.reporters;
  };

  test("the config's reporters are left as written when no --reporter is given", () => {
    const given = [["default", {}], ...ours];
    expect(configure(given)).toBe(given);
  });

  test("a --reporter adds to ours; one named like ours gets vitest's defaults (its own --outputFile), not our options", () => {
    expect(
      configure(
        [
          ["junit", {}],
          ["json", ours[1]?.[1]],
        ],
        "ci.json",
      ),
    ).toEqual([...ours, ["junit", {}], ["json", {}]]);
  });
});
