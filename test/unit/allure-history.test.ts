import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { appendRunHistory, historyBefore, pointName, splitHistory } from "../../src/report/allure-history.ts";
import { foldKeptRuns, keepRunResults } from "../../src/report/allure-runs.ts";

// Each run's point in the Allure history, made by Allure's own code (src/report/allure-history.ts).
const dir = mkdtempSync(path.join(tmpdir(), "ddv-allure-history-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const results = path.join(dir, "allure-results");

// allure-vitest's result files for one run: SVC-001 with `status`, DB-002 passed.
function writeRun(status: string) {
  rmSync(results, { recursive: true, force: true });
  mkdirSync(results);
  for (const [i, [name, s]] of [
    ["SVC-001 The Django service is active", status],
    ["DB-002 The database answers", "passed"],
  ].entries()) {
    const uuid = `0000000${i}-aaaa-4bbb-8ccc-${Date.now().toString().padStart(12, "0")}`;
    const r = { uuid, name, fullName: `specs/smoke/smoke.spec.ts#${name}`, historyId: `h${i}:p`, testCaseId: `h${i}`, status: s, stage: "finished" };
    writeFileSync(
      path.join(results, `${uuid}-result.json`),
      JSON.stringify({ ...r, start: 1, stop: 2, labels: [], parameters: [], steps: [], attachments: [] }),
    );
  }
}

const statuses = (line: string) =>
  Object.values((JSON.parse(line) as { testResults: Record<string, { name: string; status: string }> }).testResults)
    .map((t) => `${t.name.split(" ")[0]} ${t.status}`)
    .sort();

// A history of two runs, R1 (SVC-001 failed) then R2 (all passed), in its own file: each test stands alone.
async function twoRuns(name: string): Promise<string> {
  const file = path.join(dir, name);
  writeRun("failed");
  expect(await appendRunHistory(results, file, "R1")).toBe(true);
  writeRun("passed");
  expect(await appendRunHistory(results, file, "R2")).toBe(true);
  return file;
}

describe("the report's history, one point per run", () => {
  test("each run appends its own point, named after the run, with each check's status", async () => {
    const lines = readFileSync(await twoRuns("appended.jsonl"), "utf8")
      .trim()
      .split("\n");
    expect(lines.map((l) => (JSON.parse(l) as { name: string }).name)).toEqual([pointName("R1"), pointName("R2")]);
    expect(statuses(lines[0] as string)).toEqual(["DB-002 passed", "SVC-001 failed"]);
    expect(statuses(lines[1] as string)).toEqual(["DB-002 passed", "SVC-001 passed"]);
  });

  test("a report of a run is built with the points before it, not its own", async () => {
    const history = await twoRuns("split.jsonl");
    const { mine, others } = splitHistory(history, "R2");
    expect([mine.length, others.length]).toEqual([1, 1]);
    const to = path.join(dir, "before.jsonl");
    historyBefore(history, "R2", to);
    expect(readFileSync(to, "utf8").trim().split("\n").map(statuses)).toEqual([["DB-002 passed", "SVC-001 failed"]]);
  });

  test("a run without results (stopped before any check) adds nothing", async () => {
    const history = await twoRuns("stopped.jsonl");
    rmSync(results, { recursive: true, force: true });
    expect(await appendRunHistory(results, history, "R3")).toBe(false);
    expect(readFileSync(history, "utf8").trim().split("\n")).toHaveLength(2);
  });
});

describe("runs kept cheaply, folded into the history at a report build", () => {
  test("each run keeps only its result files; a build adds their points oldest first and drops the copies", async () => {
    const h = path.join(dir, "kept", "allure-history.jsonl");
    mkdirSync(path.dirname(h));
    writeRun("failed");
    expect(keepRunResults(results, h, "K1")).toBe(true);
    writeRun("passed");
    expect(keepRunResults(results, h, "K2")).toBe(true);
    expect(keepRunResults(path.join(dir, "none"), h, "K3")).toBe(false); // a run that stopped before checking
    expect(await foldKeptRuns(h)).toBe(2);
    const lines = readFileSync(h, "utf8").trim().split("\n");
    expect(lines.map((l) => (JSON.parse(l) as { name: string }).name)).toEqual([pointName("K1"), pointName("K2")]);
    expect(statuses(lines[0] as string)).toEqual(["DB-002 passed", "SVC-001 failed"]);
    expect(await foldKeptRuns(h)).toBe(0); // folded once
  });
});
