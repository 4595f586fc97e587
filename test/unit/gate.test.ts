import { describe, expect, test } from "vitest";
import { defineCheck, fail, pass, type Check } from "../../src/checks/define.ts";
import { catalogue } from "../../src/checks/index.ts";
import type { ProbeContext } from "../../src/probes/context.ts";
import { Evaluator } from "../../src/runner/evaluate.ts";
import { selectRun } from "../../src/vitest-adapter/run-selection.ts";
import { REPO_ROOT } from "../../fixtures/host/paths.ts";

// A site whose ExecStart binary is gone (a root outside the gate) and whose service is therefore down.
const meta = { suite: "service", severity: "critical", expects: "stated", recommendation: "do the thing" } as const;
const checks = new Map<string, Check>(
  [
    defineCheck({ ...meta, id: "SVC-006", title: "binary there", severity: "high" }, { run: async () => fail("/venv/bin/gunicorn does not exist") }),
    defineCheck(
      { ...meta, id: "SVC-001", title: "service runs", smoke: true, dependsOn: ["SVC-006"] },
      { run: async () => fail("ActiveState=activating SubState=auto-restart") },
    ),
    defineCheck({ ...meta, id: "HTTP-001", title: "health answers", smoke: true, dependsOn: ["SVC-001"] }, { run: async () => fail("connection refused") }),
    defineCheck({ ...meta, id: "SVC-007", title: "pythonpath", severity: "high" }, { run: async () => fail("PYTHONPATH=/nope does not exist") }),
    defineCheck({ ...meta, id: "SVC-003", title: "not crash-looping", smoke: true, dependsOn: ["SVC-007"] }, { run: async () => pass("NRestarts=0") }),
    defineCheck({ ...meta, id: "SVC-013", title: "nginx", smoke: true }, { skipIf: () => "no nginx configured for this host", run: async () => pass("x") }),
    defineCheck({ ...meta, id: "HTTP-002", title: "through nginx", smoke: true, dependsOn: ["SVC-013"] }, { run: async () => pass("200") }),
  ].map((c) => [c.id, c]),
);
const lookup = (id: string) => checks.get(id) as Check;
const ctx = {} as ProbeContext;
const evaluator = (scope: string[]) => new Evaluator(ctx, new Set(scope), lookup);

describe("the smoke gate's verdict", () => {
  test("in a full run, dependants of a failed root are skipped as blocked by it (root cause first)", async () => {
    const ev = evaluator([...checks.keys()]);
    expect(await ev.evaluate("SVC-001")).toMatchObject({ status: "skip", blockedBy: "SVC-006" });
    expect(await ev.evaluate("HTTP-001")).toMatchObject({ status: "skip", blockedBy: "SVC-006" });
  });

  test("in a gate without the root, the blocked check judges for itself and names the root", async () => {
    const ev = evaluator(["SVC-001", "HTTP-001", "SVC-003"]);
    const svc = await ev.evaluate("SVC-001");
    expect(svc).toMatchObject({ status: "fail", rootCause: "SVC-006" });
    expect(svc.observed).toContain("auto-restart");
    expect(svc.observed).toContain("root cause: SVC-006 (binary there) failed: /venv/bin/gunicorn does not exist");
    // SVC-001 is red in the same gate, so HTTP-001 may be skipped as blocked by it.
    expect(await ev.evaluate("HTTP-001")).toMatchObject({ status: "skip", blockedBy: "SVC-001" });
  });

  test("a run of one suite blames the deepest root once, not the chain", async () => {
    const o = await evaluator(["HTTP-001"]).evaluate("HTTP-001");
    expect(o).toMatchObject({ status: "fail", rootCause: "SVC-006" });
    expect(o.observed.match(/root cause/g)).toHaveLength(1);
  });

  test("a root outside the gate never turns a healthy check red", async () => {
    expect(await evaluator(["SVC-003"]).evaluate("SVC-003")).toMatchObject({ status: "pass", observed: "NRestarts=0" });
  });

  test("narrowed by -t, a red root left out turns a healthy dependant red, never green", async () => {
    const ev = new Evaluator(ctx, new Set(["SVC-003"]), lookup, { redOutsideFails: true });
    const o = await ev.evaluate("SVC-003");
    expect(o).toMatchObject({ status: "fail", rootCause: "SVC-007" });
    expect(o.observed).toContain("its root SVC-007 (pythonpath) failed and was left out of this run by -t: PYTHONPATH=/nope does not exist");
    expect(o.observed).toContain("(its own look: NRestarts=0)");
  });

  test("the scope matches -t as vitest does: against the test's name, never the suite's", async () => {
    const { testName } = await import("../../src/vitest-adapter/scope.ts");
    const svc1 = catalogue.find((c) => c.id === "SVC-001")!;
    expect(testName(svc1)).toBe(`SVC-001 ${svc1.title}`);
    expect(testName(svc1, "web1")).toBe(`SVC-001 [web1] ${svc1.title}`);
    expect(/smoke/.test(testName(svc1))).toBe(false); // -t smoke selects no check: the run judges nothing
  });

  test("a dependency not applicable here (no nginx) does not block", async () => {
    expect(await evaluator(["HTTP-002", "SVC-013"]).evaluate("HTTP-002")).toMatchObject({ status: "pass" });
  });
});

describe("the catalogue's gate", () => {
  test("every critical check is in the smoke gate", () => {
    expect(catalogue.filter((c) => c.severity === "critical" && !c.smoke).map((c) => c.id)).toEqual([]);
  });

  test("every root of a smoke check outside the gate is below critical (it cannot hide a critical failure)", () => {
    const smoke = new Set(catalogue.filter((c) => c.smoke).map((c) => c.id));
    const outside = catalogue
      .filter((c) => c.smoke)
      .flatMap((c) => c.dependsOn)
      .filter((d) => !smoke.has(d));
    for (const id of outside) expect(catalogue.find((c) => c.id === id)?.severity, id).not.toBe("critical");
  });
});

describe("which suites a vitest command line runs", () => {
  const sel = (...args: string[]) => selectRun(["run", ...args], REPO_ROOT);
  test.each([
    [["specs/smoke"], ["smoke"]],
    [["./specs/smoke/"], ["smoke"]],
    [
      ["specs/http", "specs/database"],
      ["database", "http"],
    ],
    [
      ["-t", "smoke"],
      ["database", "fs-permissions", "http", "performance", "security", "service"],
    ],
    [[], ["database", "fs-permissions", "http", "performance", "security", "service"]],
    [[`${REPO_ROOT}/specs/security`], ["security"]],
  ])("vitest run %j", (args, suites) => {
    expect(sel(...args).suites.sort()).toEqual(suites);
  });
  test("-t is kept as the name pattern", () => {
    expect(sel("-t", "DB-002").namePattern).toBe("DB-002");
    expect(sel("--testNamePattern=SEC").namePattern).toBe("SEC");
  });
});
