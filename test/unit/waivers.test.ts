import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { criticalWaiverProblems } from "../../src/vitest-adapter/waivers.ts";
import { checkById } from "../../src/checks/index.ts";
import { ConfigError, loadConfig } from "../../src/config/load.ts";
import { ConfigSchema } from "../../src/config/schema.ts";
import type { Outcome } from "../../src/runner/evaluate.ts";
import { reportOutcome } from "../../src/vitest-adapter/verdict.ts";

const failed = (id: string): Outcome => ({ id, status: "fail", observed: "Server: nginx/1.22.1", durationMs: 1 });
const config = (c: Record<string, unknown>) => ConfigSchema.parse(c);
const TODAY = "2026-11-29";

describe("waivers and the failOn threshold", () => {
  const sec005 = checkById("SEC-005"); // low
  const svc001 = checkById("SVC-001"); // critical

  test("an unexpired waiver turns a failure into 'waived' with its reason; the expiry day itself still counts", () => {
    const c = config({ waivers: [{ id: "SEC-005", reason: "nginx upgrade scheduled in January", expires: TODAY }] });
    expect(reportOutcome(sec005, failed("SEC-005"), c, "web1", TODAY)).toMatchObject({
      kind: "waived",
      note: "WAIVED until 2026-11-29: nginx upgrade scheduled in January",
    });
  });

  test("an expired waiver fails loudly and says so", () => {
    const c = config({ waivers: [{ id: "SEC-005", reason: "nginx upgrade scheduled in January", expires: "2026-11-28" }] });
    const r = reportOutcome(sec005, failed("SEC-005"), c, "web1", TODAY);
    expect(r).toMatchObject({ kind: "fail" });
    expect(r.note).toContain("expired on 2026-11-28");
  });

  test("a waiver for another host does not apply; one for this host wins over a general one", () => {
    const other = config({ failOn: "low", waivers: [{ id: "SEC-005", reason: "only on the staging box", expires: "2027-01-01", host: "staging" }] });
    expect(reportOutcome(sec005, failed("SEC-005"), other, "web1", TODAY).kind).toBe("fail");
    const both = config({
      waivers: [
        { id: "SEC-005", reason: "general acceptance until the new year", expires: "2026-01-01" },
        { id: "SEC-005", reason: "web1 keeps its old nginx a while", expires: "2027-01-01", host: "web1" },
      ],
    });
    expect(reportOutcome(sec005, failed("SEC-005"), both, "web1", TODAY)).toMatchObject({ kind: "waived" });
  });

  test("failures below failOn are reported, not red; at or above it they are red; errors are never waived", () => {
    const c = config({ failOn: "high", waivers: [{ id: "SVC-001", reason: "trying to waive an error", expires: "2027-01-01" }] });
    expect(reportOutcome(sec005, failed("SEC-005"), c, "web1", TODAY)).toMatchObject({
      kind: "below",
      note: "low finding, below failOn=high: reported, not red",
    });
    expect(reportOutcome(svc001, { ...failed("SVC-001"), status: "error" }, c, "web1", TODAY).kind).toBe("error");
    expect(reportOutcome(checkById("SVC-002"), failed("SVC-002"), c, "web1", TODAY).kind).toBe("fail"); // high
    expect(reportOutcome(sec005, failed("SEC-005"), config({}), "web1", TODAY).kind).toBe("below"); // default failOn=high
    expect(reportOutcome(sec005, failed("SEC-005"), config({ failOn: "low" }), "web1", TODAY).kind).toBe("fail");
  });
});

describe("waiver files", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "ddv-waivers-"));
  const write = (name: string, v: unknown) => {
    writeFileSync(path.join(dir, name), typeof v === "string" ? v : JSON.stringify(v));
    return path.join(dir, name);
  };

  test("waiversFile, relative to the config file, adds its waivers", () => {
    write("w.json", [{ id: "SEC-009", reason: "sandboxing lands with the next unit", expires: "2027-02-01" }]);
    const file = write("c.json", { waiversFile: "w.json", waivers: [{ id: "SEC-005", reason: "nginx upgrade in January", expires: "2027-01-01" }] });
    expect(loadConfig({ DEPLOY_CONFIG: file }, "/").waivers.map((w) => w.id)).toEqual(["SEC-005", "SEC-009"]);
  });

  test.each([
    ["missing", "nope.json", /waivers file .*nope\.json \(from waiversFile\) does not exist/],
    ["not JSON", write("bad.json", "[{"), /waivers file .*bad\.json is not valid JSON/],
    [
      "a bad date and no reason",
      write("bad2.json", [{ id: "SEC-005", expires: "soon" }]),
      /invalid waivers in .*bad2\.json:[\s\S]*reason[\s\S]*must be a date such as 2027-01-31/,
    ],
  ])("a waivers file that is %s gets one message", (_label, w, message) => {
    const file = write(`c-${_label.replace(/\W/g, "")}.json`, { waiversFile: path.basename(w) });
    expect(() => loadConfig({ DEPLOY_CONFIG: file }, "/")).toThrow(ConfigError);
    expect(() => loadConfig({ DEPLOY_CONFIG: file }, "/")).toThrow(message);
  });

  test("failOn and waivers are checked by the schema", () => {
    expect(() => ConfigSchema.parse({ failOn: "urgent" })).toThrow();
    expect(() => ConfigSchema.parse({ waivers: [{ id: "SEC-5", reason: "a long enough reason", expires: "2027-01-01" }] })).toThrow(/must be a check ID/);
  });
});

describe("waivers of critical checks", () => {
  const now = new Date("2026-12-04T12:00:00");
  const critical = new Set(["SVC-001", "SEC-001"]);
  const w = (id: string, expires: string, host?: string) => ({ id, reason: "accepted for the migration window", expires, ...(host ? { host } : {}) });
  test("need a host and an expiry within 7 days; other checks may be waived freely", () => {
    expect(criticalWaiverProblems([w("SVC-001", "2026-12-11", "web1"), w("SEC-005", "2027-06-01")], critical, now)).toEqual([]);
    expect(criticalWaiverProblems([w("SVC-001", "2026-12-12", "web1"), w("SEC-001", "2026-12-05"), w("SVC-001", "2027-01-01")], critical, now)).toEqual([
      "SVC-001 expires 2026-12-12, after 2026-12-11",
      "SEC-001 names no host",
      "SVC-001 names no host and expires 2027-01-01, after 2026-12-11",
    ]);
  });
});
