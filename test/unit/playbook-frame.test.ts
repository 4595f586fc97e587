import { beforeEach, describe, expect, test, vi } from "vitest";
import { ConfigSchema } from "../../src/config/schema.ts";
import type { EmergencyOptions } from "../../src/remediation/emergency.ts";
import type { Transport } from "../../src/transport/types.ts";

// The emergency playbooks' shared frame, with no host: the context, the lock, the audit and the backup stubbed, each
// call noted in `events` so the order (lock only when applying, audit then release then the final line) is asserted.

const events: string[] = [];
let auditFails = false;
const ctx = { secrets: [] as string[], close: async () => void events.push("close") };

vi.mock("../../src/remediation/recheck.ts", () => ({
  freshContext: async () => {
    events.push("context");
    return ctx;
  },
}));
vi.mock("../../src/remediation/emergency/session.ts", () => ({
  lockFor: async (_t: unknown, command: string) => {
    events.push(`lock ${command}`);
    return async () => void events.push("release");
  },
  auditPlaybook: async (_c: unknown, command: string, ids: string[], result: string, _log: unknown, backup?: { dir: string }, reason?: string) => {
    events.push(`audit ${command} [${ids.join(",")}] ${result} ${backup?.dir ?? "-"} ${reason ?? "-"}`);
    if (auditFails) throw new Error("disk full");
  },
  playbookApplyEnv: async (_c: unknown, _mk: unknown, _t: unknown, backup: { dir: string }, _ctx: unknown, fix: string) => ({ fix, dir: backup.dir }),
}));
vi.mock("../../src/remediation/backup.ts", () => ({
  BackupFolder: {
    create: async () => {
      events.push("backup");
      return { dir: "/var/lib/ddv/remediation/b1" };
    },
  },
}));

const { runPlaybook } = await import("../../src/remediation/emergency/frame.ts");
const { startUnit } = await import("../../src/remediation/emergency/unit-steps.ts");

const frame = { command: "emergency-test", ids: ["SVC-001"], unfinished: "failed" };
const options = (): EmergencyOptions => ({
  config: ConfigSchema.parse({}),
  transport: () => ({ name: "fake" }) as unknown as Transport,
  say: (l) => void events.push(`say ${l}`),
  confirm: async () => true,
  dryRun: false,
});

beforeEach(() => {
  events.length = 0;
  auditFails = false;
});

describe("runPlaybook", () => {
  test("a plan that ends with an exit code takes no lock and writes no audit line", async () => {
    expect(await runPlaybook(options(), frame, async () => 1)).toBe(1);
    expect(events).toEqual(["context", "close"]);
  });

  test("a plan that throws still closes the context, unlocked", async () => {
    await expect(runPlaybook(options(), frame, async () => Promise.reject(new Error("not loaded")))).rejects.toThrow("not loaded");
    expect(events).toEqual(["context", "close"]);
  });

  test("green: locked apply, its backup and steps audited, released, then the final line; exit 0", async () => {
    const code = await runPlaybook(options(), frame, async () => async (s) => {
      const env = (await s.applyEnv()) as unknown as { fix: string; dir: string };
      expect(env).toEqual({ fix: "emergency-test", dir: "/var/lib/ddv/remediation/b1" });
      expect(await s.backup()).toBe(await s.backup()); // one folder per run
      await s.log.run("a step", async () => "done");
      return { green: true, result: "green", message: "all good" };
    });
    expect(code).toBe(0);
    expect(events).toEqual([
      "context",
      "lock emergency-test",
      "backup",
      "say   [1] a step: ok (0.0 s): done",
      "audit emergency-test [SVC-001] green /var/lib/ddv/remediation/b1 -",
      "release",
      "say all good",
      "close",
    ]);
  });

  test("not green: the reason the apply phase left is audited; exit 1", async () => {
    const code = await runPlaybook(options(), frame, async () => async (s) => {
      s.reason = "start x: failed";
      return { green: false, result: "rolled back", message: "rolled back" };
    });
    expect(code).toBe(1);
    expect(events).toContain("audit emergency-test [SVC-001] rolled back - start x: failed");
  });

  test("an apply that throws is audited with the unfinished result and the reason so far, the lock released, no final line", async () => {
    const run = runPlaybook(options(), frame, async () => async (s) => {
      await s.backup();
      s.reason = "wait for SVC-001: still red";
      throw new Error("recheck lost the host");
    });
    await expect(run).rejects.toThrow("recheck lost the host");
    expect(events).toEqual([
      "context",
      "lock emergency-test",
      "backup",
      "audit emergency-test [SVC-001] failed /var/lib/ddv/remediation/b1 wait for SVC-001: still red",
      "release",
      "close",
    ]);
  });

  test("an audit log that cannot be written is said, and the playbook's own exit code stands", async () => {
    auditFails = true;
    const code = await runPlaybook(options(), frame, async () => async () => ({ green: true, result: "green", message: "done" }));
    expect(code).toBe(0);
    expect(events.slice(-4)).toEqual(["say   could not write the audit log: disk full", "release", "say done", "close"]);
  });
});

describe("startUnit", () => {
  test("clears the failed state first; a failed start fails with systemctl's last stderr line", async () => {
    const runs: string[][] = [];
    const t = {
      run: async (argv: string[]) => {
        runs.push(argv);
        return argv[1] === "start"
          ? { exitCode: 1, stdout: "", stderr: "Job for x.service failed.\nSee 'journalctl -xeu x.service' for details.\n", durationMs: 1 }
          : { exitCode: 0, stdout: "", stderr: "", durationMs: 1 };
      },
    } as unknown as Transport;
    await expect(startUnit(t, ConfigSchema.parse({}), "x.service")).rejects.toThrow("systemctl start exited 1: See 'journalctl -xeu x.service' for details.");
    expect(runs).toEqual([
      ["systemctl", "reset-failed", "--", "x.service"],
      ["systemctl", "start", "--", "x.service"],
    ]);
  });
});
