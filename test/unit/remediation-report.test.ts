import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { readReport } from "../../src/remediation/report.ts";
import { catalogueVersion } from "../../src/runner/identity.ts";
import { allPass, here, vitestReport, writeAllure, writeVitest } from "./remediation-fixtures.ts";

// Reading a validator report in either format into the check results remediation acts on.

const dir = mkdtempSync(path.join(tmpdir(), "ddv-remediation-report-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const refused = (p: string) => {
  try {
    readReport(p);
  } catch (err) {
    return { code: (err as { exitCode?: number }).exitCode, message: (err as Error).message };
  }
  throw new Error(`${p} was accepted`);
};

describe("vitest JSON report", () => {
  test("reads each check's status, blockedBy and rootCause, the host and the catalogue", () => {
    const rows = [
      { id: "SVC-012", status: "fail" },
      { id: "DB-001", status: "skip", blockedBy: "SVC-012" },
      { id: "SVC-001", status: "fail", rootCause: "SVC-012" },
      { id: "SEC-004", status: "waived" },
      { id: "HTTP-001", status: "error" },
    ];
    const d = writeVitest(dir, "mixed", vitestReport(rows, 1_700_000_000_000));
    const r = readReport(d);
    expect(r.file).toBe(path.join(d, "vitest-report.json"));
    expect(r.startedAt).toBe(1_700_000_000_000);
    expect(r.machineId).toBe(here().machineId);
    expect(r.hostname).toBe(here().hostname);
    expect(r.catalogue).toBe(catalogueVersion());
    expect(r.checks).toEqual([
      { id: "SVC-012", status: "fail", blockedBy: undefined, rootCause: undefined },
      { id: "DB-001", status: "skip", blockedBy: "SVC-012", rootCause: undefined },
      { id: "SVC-001", status: "fail", blockedBy: undefined, rootCause: "SVC-012" },
      { id: "SEC-004", status: "waived", blockedBy: undefined, rootCause: undefined },
      { id: "HTTP-001", status: "error", blockedBy: undefined, rootCause: undefined },
    ]);
  });

  test("each check's observation comes along: the remediation's results show it as the state before the fix", () => {
    const rows = [
      { id: "DB-001", status: "fail", observed: "password authentication failed for user app" },
      { id: "SVC-001", status: "pass" },
    ];
    const r = readReport(writeVitest(dir, "observed", vitestReport(rows)));
    expect(r.checks.map((c) => [c.id, c.observed])).toEqual([
      ["DB-001", "password authentication failed for user app"],
      ["SVC-001", undefined],
    ]);
  });

  test("the report file itself reads the same as its folder", () => {
    const d = writeVitest(dir, "file", vitestReport(allPass()));
    expect(readReport(path.join(d, "vitest-report.json")).checks).toEqual(readReport(d).checks);
  });

  test("tests without a checkId (the runner's own tests) are ignored", () => {
    const rep = vitestReport([{ id: "SVC-001", status: "fail" }]) as { testResults: Array<{ assertionResults: Array<Record<string, unknown>> }> };
    rep.testResults[0]?.assertionResults.push({ title: "helper", status: "passed" }, { title: "helper 2", status: "passed", meta: { other: 1 } });
    const r = readReport(writeVitest(dir, "extra", rep));
    expect(r.checks.map((c) => [c.id, c.status])).toEqual([["SVC-001", "fail"]]);
  });

  // Recorded on a dev box: `npx vitest run specs/service -t "SVC-001 "`. The 18 tests the filter left out carry
  // the meta set at registration (checkId, suite...) but no host and no status: they were not run.
  // KNOWN BUG (src/remediation/report.ts): they are read as results of a second, unnamed host, so a filtered
  // run's report is refused with "mixes results of 2 hosts". test.fails until report.ts skips results with no
  // meta.status; then turn this into test().
  test("a filtered run's report: the tests that were not run are not results (and not another host)", () => {
    const rec = JSON.parse(readFileSync(path.join(import.meta.dirname, "../recorded/vitest-report-filtered-run.json"), "utf8")) as ReturnType<
      typeof vitestReport
    >;
    const r = readReport(writeVitest(dir, "filtered", rec));
    expect(r.checks.map((c) => c.id)).toEqual(["SVC-001"]);
    expect(r.checks[0]).toMatchObject({ status: "error", rootCause: "SVC-016" });
    expect(r.hostname).toBe("vm");
  });

  test("refusals: exit 65 with the reason", () => {
    expect(refused(path.join(dir, "absent"))).toMatchObject({ code: 65, message: expect.stringMatching(/does not exist/) });
    expect(refused(writeVitest(dir, "trunc", "{"))).toMatchObject({ code: 65, message: expect.stringMatching(/not readable JSON/) });
    expect(refused(writeVitest(dir, "array", "[]"))).toMatchObject({ code: 65, message: expect.stringMatching(/not a vitest JSON report/) });
    expect(refused(writeVitest(dir, "none", vitestReport([])))).toMatchObject({ code: 65, message: expect.stringMatching(/no check results/) });
    expect(refused(writeVitest(dir, "badid", vitestReport([{ id: "svc-1" }])))).toMatchObject({
      code: 65,
      message: expect.stringMatching(/malformed check result \("svc-1"/),
    });
    const two = vitestReport([{ id: "SVC-001" }, { id: "SVC-002", host: { hostname: "b", machineId: "b".repeat(32) } }]);
    expect(refused(writeVitest(dir, "two", two))).toMatchObject({ code: 65, message: expect.stringMatching(/mixes results of 2 hosts/) });
    // A report whose checks carry no host at all, next to one that does, is two hosts too.
    const half = vitestReport([{ id: "SVC-001" }, { id: "SVC-002", host: null }]);
    expect(refused(writeVitest(dir, "half", half))).toMatchObject({ code: 65, message: expect.stringMatching(/mixes results of 2 hosts/) });
    mkdirSync(path.join(dir, "nothing"));
    expect(refused(path.join(dir, "nothing"))).toMatchObject({ code: 65, message: expect.stringMatching(/holds neither/) });
  });
});

describe("allure-results folder", () => {
  test("the newest result per check counts (allure-results accumulate across runs)", () => {
    const d = path.join(dir, "allure-accumulated");
    const t = Date.now();
    writeAllure(
      d,
      [
        { id: "SVC-001", status: "fail" },
        { id: "SVC-002", status: "pass" },
        { id: "DB-001", status: "fail" },
      ],
      t - 600_000,
      "old",
    );
    writeAllure(
      d,
      [
        { id: "SVC-001", status: "pass" },
        { id: "SVC-002", status: "fail" },
      ],
      t - 60_000,
      "new",
    );
    const r = readReport(d);
    const byId = Object.fromEntries(r.checks.map((c) => [c.id, c.status]));
    expect(byId).toEqual({ "SVC-001": "pass", "SVC-002": "fail", "DB-001": "fail" });
    // The run's start is the oldest result still counted: the freshness check judges it.
    expect(r.startedAt).toBe(t - 600_000);
    expect(r.machineId).toBe(here().machineId);
    expect(r.catalogue).toBe(catalogueVersion());
  });

  test("allure statuses and labels map to the validator's outcomes", () => {
    const d = path.join(dir, "allure-statuses");
    writeAllure(
      d,
      [
        { id: "SVC-001", status: "fail", rootCause: "SVC-012" },
        { id: "SVC-012", status: "fail" },
        { id: "DB-001", status: "skip", blockedBy: "SVC-012" },
        { id: "HTTP-001", status: "error" },
      ],
      Date.now(),
    );
    // A waived failure and a below-threshold failure are reported as skipped tests with an outcome label.
    const base = {
      status: "skipped",
      start: Date.now(),
      labels: [
        { name: "machine_id", value: here().machineId },
        { name: "host", value: here().hostname },
        { name: "catalogue", value: catalogueVersion() },
      ],
    };
    writeFileSync(
      path.join(d, "w-result.json"),
      JSON.stringify({ ...base, labels: [...base.labels, { name: "check_id", value: "SEC-004" }, { name: "outcome", value: "waived" }] }),
    );
    writeFileSync(
      path.join(d, "b-result.json"),
      JSON.stringify({ ...base, labels: [...base.labels, { name: "check_id", value: "PERF-001" }, { name: "outcome", value: "below" }] }),
    );
    // Attachments and containers in the folder are not results.
    writeFileSync(path.join(d, "abc-container.json"), "{}");
    writeFileSync(path.join(d, "abc-attachment.txt"), "x");
    const r = readReport(d);
    const byId = Object.fromEntries(r.checks.map((c) => [c.id, c]));
    expect(byId["SVC-001"]).toEqual({ id: "SVC-001", status: "fail", rootCause: "SVC-012", blockedBy: undefined });
    expect(byId["DB-001"]).toMatchObject({ status: "skip", blockedBy: "SVC-012" });
    expect(byId["HTTP-001"]?.status).toBe("error");
    expect(byId["SEC-004"]?.status).toBe("waived");
    expect(byId["PERF-001"]?.status).toBe("fail");
  });

  test("each check's observation comes along: a red check's message, a skip's reason", () => {
    const rows = [
      { id: "DB-001", status: "fail", observed: "DB-001 FAIL: ...\n  observed: password authentication failed" },
      { id: "HTTP-001", status: "skip", observed: "blocked by DB-001 (failed)" },
      { id: "SVC-001", status: "pass" },
    ];
    const r = readReport(writeAllure(path.join(dir, "allure-observed"), rows, Date.now()));
    expect(Object.fromEntries(r.checks.map((c) => [c.id, c.observed]))).toEqual({
      "DB-001": "DB-001 FAIL: ...\n  observed: password authentication failed",
      "HTTP-001": "blocked by DB-001 (failed)",
      "SVC-001": undefined,
    });
  });

  test("refusals: no check results, a result that is not allure's, two hosts", () => {
    const empty = path.join(dir, "allure-empty");
    mkdirSync(empty);
    writeFileSync(path.join(empty, "x-result.json"), JSON.stringify({ status: "passed", labels: [{ name: "suite", value: "other" }] }));
    expect(refused(empty)).toMatchObject({ code: 65, message: expect.stringMatching(/no check results/) });
    const junk = writeAllure(path.join(dir, "allure-junk"), allPass().slice(0, 2), Date.now());
    writeFileSync(path.join(junk, "j-result.json"), "not json");
    expect(refused(junk)).toMatchObject({ code: 65, message: expect.stringMatching(/not readable JSON/) });
    const two = writeAllure(
      path.join(dir, "allure-two"),
      [{ id: "SVC-001" }, { id: "SVC-002", host: { hostname: "b", machineId: "b".repeat(32) } }],
      Date.now(),
    );
    expect(refused(two)).toMatchObject({ code: 65, message: expect.stringMatching(/mixes results of 2 hosts/) });
  });
});
