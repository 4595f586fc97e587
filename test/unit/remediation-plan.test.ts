import { createLocalTransport } from "../../src/transport/local.ts";
import { describe, expect, test, vi } from "vitest";
import type { Fix } from "../../src/remediation/fix.ts";
import type { Report } from "../../src/remediation/report.ts";
import type { Outcome } from "../../src/runner/evaluate.ts";

// Which IDs a report asks to fix, and how the red ones become ordered steps (fixes stubbed: no host).

const fake = new Map<string, Fix>();
vi.mock("../../src/remediation/fixes/index.ts", () => ({ fixById: (id: string) => fake.get(id), fixes: [] }));
const restart: Fix = {
  id: "restart-service",
  title: "restart",
  rank: 80,
  restartsApp: false,
  touches: () => ({ files: [], units: ["projectmeats.service"] }),
  plan: async () => ({ actions: [{ kind: "restart-until-green", unit: "projectmeats.service", ids: ["SVC-001"], seconds: 30 }] }),
};
vi.mock("../../src/remediation/fixes/service.ts", () => ({ restartService: restart }));

const { buildPlan, targetIds } = await import("../../src/remediation/plan.ts");
const { checkById } = await import("../../src/checks/index.ts");

const report = (checks: Report["checks"]): Report => ({ file: "r", startedAt: 0, checks });

describe("targetIds", () => {
  test("failures and the root causes of failures and errors; never checks skipped as blocked", () => {
    const { targets, couldNotCheck } = targetIds(
      report([
        { id: "SVC-012", status: "fail" },
        { id: "DB-001", status: "skip", blockedBy: "SVC-012" },
        { id: "DB-002", status: "skip", blockedBy: "DB-001" },
        { id: "SVC-001", status: "fail", rootCause: "SVC-002" },
        { id: "HTTP-001", status: "error", rootCause: "SVC-013" },
        { id: "SEC-004", status: "waived" },
        { id: "FS-001", status: "pass" },
      ]),
    );
    expect(targets.sort()).toEqual(["SVC-001", "SVC-002", "SVC-012", "SVC-013"]);
    expect(couldNotCheck).toEqual(["HTTP-001"]);
  });

  test("errors are listed apart and never become targets themselves", () => {
    const r = targetIds(
      report([
        { id: "SVC-003", status: "error" },
        { id: "FS-002", status: "error" },
        { id: "FS-001", status: "fail" },
      ]),
    );
    expect(r).toEqual({ targets: ["FS-001"], couldNotCheck: ["SVC-003", "FS-002"] });
  });

  test("an ID that errored but is also the root cause of a failure is a target, not listed twice", () => {
    const r = targetIds(
      report([
        { id: "SVC-012", status: "error" },
        { id: "DB-001", status: "fail", rootCause: "SVC-012" },
      ]),
    );
    expect(r.targets.sort()).toEqual(["DB-001", "SVC-012"]);
    expect(r.couldNotCheck).toEqual([]);
  });

  test("a clean report: nothing to do", () => {
    expect(
      targetIds(
        report([
          { id: "SVC-001", status: "pass" },
          { id: "SVC-002", status: "skip" },
        ]),
      ),
    ).toEqual({ targets: [], couldNotCheck: [] });
  });
});

const out = (id: string, status: Outcome["status"], observed = "x"): [string, Outcome] => [id, { id, status, observed } as Outcome];
// The paths these plans name do not exist here: the real file helper finds them missing and pins nothing.
const env = { ctx: {} as never, config: {} as never, transport: createLocalTransport(), addSecret() {} };
const mk = (id: string, rank: number, o: Partial<Fix> = {}): Fix => ({
  id,
  title: id,
  rank,
  restartsApp: false,
  touches: () => ({ files: ["/etc/x"], units: ["x.service"] }),
  plan: async () => ({ actions: [{ kind: "chmod", path: "/etc/x/f", mode: 0o640 }] }),
  ...o,
});

describe("buildPlan", () => {
  test("steps ordered by rank, one step per fix with every ID it cures; the app restarted once after what it loads", async () => {
    fake.clear();
    const ids = { pg: checkById("SVC-012"), perm: checkById("FS-001"), perm2: checkById("FS-002"), env: checkById("SEC-001") };
    fake.set(
      ids.pg.fixId as string,
      mk(ids.pg.fixId as string, 10, {
        touches: () => ({ files: [], units: ["postgresql*"] }),
        plan: async () => ({ actions: [{ kind: "unit", unit: "postgresql@15-main.service", verb: "start" }] }),
      }),
    );
    fake.set(ids.perm.fixId as string, mk(ids.perm.fixId as string, 40, { restartsApp: true }));
    fake.set(ids.env.fixId as string, mk(ids.env.fixId as string, 50, { restartsApp: true }));
    const red = ["SEC-001", "FS-002", "SVC-012", "FS-001"];
    const { steps, manual } = await buildPlan(red, new Map(red.map((id) => out(id, "fail"))), env);
    expect(manual).toEqual([]);
    expect(steps.map((s) => [s.fix.id, s.ids])).toEqual([
      [ids.pg.fixId, ["SVC-012"]],
      [ids.perm.fixId, ["FS-002", "FS-001"]],
      [ids.env.fixId, ["SEC-001"]],
      ["restart-service", []],
    ]);
  });

  test("a crash loop with a cause some step cures: the app is restarted after the steps (SVC-003 has no fix of its own)", async () => {
    fake.clear();
    const perm = checkById("FS-002").fixId as string;
    fake.set(perm, mk(perm, 40, { restartsApp: false }));
    const red = ["FS-002", "SVC-003"];
    const looping = await buildPlan(red, new Map(red.map((id) => out(id, "fail"))), env);
    expect(looping.steps.map((s) => s.fix.id)).toEqual([perm, "restart-service"]);
    expect(looping.manual.map((m) => m.id)).toEqual(["SVC-003"]);
    // Without the loop, a fix that needs no restart gets none.
    const steady = await buildPlan(["FS-002"], new Map([out("FS-002", "fail")]), env);
    expect(steady.steps.map((s) => s.fix.id)).toEqual([perm]);
  });

  test("no fix, a failed precondition, nothing to change, an error: manual steps with the reason, never dropped", async () => {
    fake.clear();
    fake.set(checkById("FS-001").fixId as string, mk("fix-permissions", 40, { plan: async () => ({ manual: "the unit's user does not exist" }) }));
    fake.set(checkById("SEC-001").fixId as string, mk("set-debug-false", 50, { plan: async () => ({ actions: [] }) }));
    fake.set(checkById("DB-002").fixId as string, mk("migrate", 70, { plan: async () => Promise.reject(new Error("psql timed out")) }));
    const noFix = "SVC-003";
    expect(checkById(noFix).fixId).toBeUndefined();
    const red = ["FS-001", "SEC-001", "DB-002", noFix, "SVC-012"];
    const baseline = new Map([...red.map((id) => out(id, "fail")), out("SVC-012", "error", "systemctl timed out")]);
    const { steps, manual } = await buildPlan(red, baseline, { ...env, config: { service: "shop" } as never });
    expect(steps).toEqual([]);
    const why = Object.fromEntries(manual.map((m) => [m.id, m.why]));
    expect(Object.keys(why).sort()).toEqual(["DB-002", "FS-001", "SEC-001", "SVC-003", "SVC-012"]);
    expect(why["FS-001"]).toMatch(/^fix-permissions cannot act here: the unit's user does not exist; /);
    expect(why["SEC-001"]).toMatch(/^set-debug-false finds nothing to change; /);
    expect(why["DB-002"]).toMatch(/^migrate could not plan: psql timed out; /);
    // The catalogue's advice, naming the configured unit where it says <service>.
    expect(checkById(noFix).recommendation).toContain("journalctl -u <service> -n 50");
    expect(why[noFix]).toBe(checkById(noFix).recommendation.replaceAll("<service>", "shop"));
    // An error says "could not" once: the baseline's "could not check: " lead is not repeated.
    const erred = await buildPlan(["SVC-012"], new Map([out("SVC-012", "error", "could not check: systemctl timed out")]), env);
    expect(erred.manual[0]?.why).toBe("could not be checked (systemctl timed out); make it checkable, then run the validator again");
    expect(why["SVC-012"]).toMatch(/could not be checked \(systemctl timed out\)/);
  });

  test("an action outside what the fix declared is refused", async () => {
    fake.clear();
    fake.set(
      "fix-permissions",
      mk("fix-permissions", 40, {
        touches: () => ({ files: ["/opt/projectmeats/logs"], units: [] }),
        plan: async () => ({ actions: [{ kind: "chmod", path: "/opt/projectmeats/logs-old/x", mode: 0o640 }] }),
      }),
    );
    await expect(buildPlan(["FS-001"], new Map([out("FS-001", "fail")]), env)).rejects.toThrow(
      /planned to touch \/opt\/projectmeats\/logs-old\/x, outside what it declares \(\/opt\/projectmeats\/logs\)/,
    );
    fake.set(
      "fix-permissions",
      mk("fix-permissions", 40, {
        touches: () => ({ files: ["/etc/x"], units: ["nginx.service"] }),
        plan: async () => ({ actions: [{ kind: "unit", unit: "projectmeats.service", verb: "restart" }] }),
      }),
    );
    await expect(buildPlan(["FS-001"], new Map([out("FS-001", "fail")]), env)).rejects.toThrow(/unit projectmeats\.service, outside/);
  });
});
