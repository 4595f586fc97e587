import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, beforeAll, expect, test } from "vitest";
import { listScenarios, loadScenario } from "../../fixtures/host/scenarios.ts";
import { describeE2E } from "./e2e.ts";
import { hostCli, idsWith, validateInside } from "./hosts.ts";

// Scenarios whose service restarts in a loop: the MainPID systemd names may be exiting, or gone, when we read it.
const LOOPING = ["app-import-error", "gunicorn-missing-restarted"];
const RUNS = 3;
const BUSY = 2;

const names = (await listScenarios()).filter((n) => LOOPING.includes(n));

// The crash-loop scenarios, validated again and again while the machine is busy: timing must never turn into
// findings (a dying process read as an empty environment) or errors. Each run fails exactly the scenario's IDs.
describeE2E("crash loops under CPU load", () => {
  const hogs: ChildProcess[] = [];
  beforeAll(() => {
    // Busy loops on the outer machine, which the hosts share: the loop's restarts and our reads interleave anew.
    for (let i = 0; i < BUSY; i++) hogs.push(spawn("sh", ["-c", "while :; do :; done"], { stdio: "ignore" }));
  });
  afterAll(() => {
    for (const h of hogs) if (h.exitCode === null) h.kill("SIGKILL");
  });

  test("every looping scenario is known", () => {
    expect(names.sort()).toEqual([...LOOPING].sort());
  });

  test.each(names)("%s: every run fails exactly its root causes, nothing errors", { timeout: 1_500_000 }, async (name) => {
    const scenario = await loadScenario(name);
    const host = `e2e-cl-${name}`.slice(0, 31).replace(/-+$/, "");
    const up = await hostCli(["up", "--scenario", name, "--name", host]);
    try {
      expect(up.exitCode, up.stderr).toBe(0);
      for (let run = 1; run <= RUNS; run++) {
        expect(
          hogs.every((h) => h.exitCode === null),
          "the busy loops still run",
        ).toBe(true);
        const v = await validateInside(host, [], `crash-loop-${name}-${run}`);
        const failed = v.results.filter((r) => r.status === "fail");
        const story = `run ${run}:\n${v.results
          .filter((r) => r.status === "fail" || r.status === "error")
          .map((r) => `${r.id} ${r.status}: ${r.observed}`)
          .join("\n")}`;
        expect(idsWith(v.results, "not-run"), v.output).toEqual([]);
        expect(idsWith(v.results, "error"), story).toEqual([]);
        expect(failed.map((r) => r.id).sort(), story).toEqual([...scenario.expectFail].sort());
        expect(v.exitCode, story).toBe(1);
      }
    } finally {
      // A failed up removed its host itself: asserting on down then would hide up's own message.
      const down = await hostCli(["down", host]);
      if (up.exitCode === 0) expect(down.exitCode).toBe(0);
    }
  });
});
