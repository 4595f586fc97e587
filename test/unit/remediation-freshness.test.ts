import { describe, expect, test } from "vitest";
import { checkReport } from "../../src/remediation/freshness.ts";
import type { Report } from "../../src/remediation/report.ts";

// A report must be about this host, with this catalogue, recent; --force-stale lifts the age limit only.

const NOW = 1_800_000_000_000;
const here = { hostname: "web1", machineId: "a".repeat(32) };
const CAT = "0.1.0+0123456789";
const report = (o: Partial<Report> = {}): Report => ({
  file: "r.json",
  startedAt: NOW - 5 * 60_000,
  hostname: "web1",
  machineId: here.machineId,
  catalogue: CAT,
  checks: [{ id: "SVC-001", status: "fail" }],
  ...o,
});
const check =
  (r: Report, o: { max?: number; force?: boolean } = {}) =>
  () =>
    checkReport(r, here, CAT, o.max ?? 60, o.force ?? false, NOW);
const refusal = (fn: () => void) => {
  try {
    fn();
  } catch (err) {
    return `${(err as { exitCode: number }).exitCode} ${(err as Error).message}`;
  }
  return "accepted";
};

describe("checkReport", () => {
  test("a fresh report of this host and catalogue is accepted", () => {
    expect(refusal(check(report()))).toBe("accepted");
    expect(refusal(check(report({ startedAt: NOW - 60 * 60_000 })))).toBe("accepted"); // exactly at the limit
  });

  test("another host is refused, naming both (machine-id shortened)", () => {
    expect(refusal(check(report({ machineId: "b".repeat(32), hostname: "web2" })))).toBe(
      `65 report r.json is from host web2 (machine-id bbbbbbbb…), not this one (web1, aaaaaaaa…)`,
    );
  });

  test("a same-named host with another machine-id is another host (a rebuilt machine)", () => {
    expect(refusal(check(report({ machineId: "c".repeat(32) })))).toMatch(/^65 report r\.json is from host web1/);
  });

  test("no host identity, another or no catalogue, an unknown ID: refused", () => {
    expect(refusal(check(report({ machineId: undefined })))).toMatch(/^65 .*carries no host identity/);
    expect(refusal(check(report({ catalogue: "0.0.9+ffffffffff" })))).toBe(
      `65 report r.json was made with catalogue 0.0.9+ffffffffff, this validator has ${CAT}: run the validator again`,
    );
    expect(refusal(check(report({ catalogue: undefined })))).toMatch(/^65 .*catalogue unknown/);
    expect(
      refusal(
        check(
          report({
            checks: [
              { id: "SVC-001", status: "fail" },
              { id: "PERF-999", status: "pass" },
            ],
          }),
        ),
      ),
    ).toMatch(/^65 .*names check PERF-999, which this catalogue does not have/);
  });

  test("older than the configured limit: refused unless --force-stale", () => {
    const stale = report({ startedAt: NOW - 61 * 60_000 });
    expect(refusal(check(stale))).toMatch(/^65 report r\.json is 61 minutes old \(limit 60\): run the validator again, or pass --force-stale$/);
    expect(refusal(check(stale, { force: true }))).toBe("accepted");
    expect(refusal(check(report({ startedAt: NOW - 11 * 60_000 }), { max: 10 }))).toMatch(/11 minutes old \(limit 10\)/);
  });

  test("--force-stale does not lift the host, catalogue or ID checks", () => {
    const old = NOW - 24 * 60 * 60_000;
    expect(refusal(check(report({ startedAt: old, machineId: "b".repeat(32) }), { force: true }))).toMatch(/^65 .*is from host/);
    expect(refusal(check(report({ startedAt: old, catalogue: "x" }), { force: true }))).toMatch(/^65 .*made with catalogue x/);
    expect(refusal(check(report({ startedAt: old, checks: [{ id: "DB-999", status: "fail" }] }), { force: true }))).toMatch(/^65 .*DB-999/);
  });

  test("a report from the future (a wrong clock) is refused; a few minutes of skew is not", () => {
    expect(refusal(check(report({ startedAt: NOW + 3 * 60_000 })))).toBe("accepted");
    expect(refusal(check(report({ startedAt: NOW + 30 * 60_000 })))).toMatch(/^65 .*dated 30 minutes in the future/);
  });
});
