import { expect, test } from "vitest";
import { listScenarios, loadScenario } from "../../fixtures/host/scenarios.ts";
import { describeE2E } from "./e2e.ts";
import { hostCli, idsWith, validateInside } from "./hosts.ts";

const names = await listScenarios();

// Each scenario on a fresh copy-on-write host: exactly its root-cause IDs fail, nothing errors.
describeE2E("fault scenarios", () => {
  test.concurrent.each(names)("%s", async (name) => {
    const scenario = await loadScenario(name);
    const host = `e2e-${name}`.slice(0, 31).replace(/-+$/, "");
    const up = await hostCli(["up", "--scenario", name, "--name", host]);
    try {
      expect(up.exitCode, up.stderr).toBe(0);
      const v = await validateInside(host, [], `scenario-${name}`);
      const failed = v.results.filter((r) => r.status === "fail");
      expect(idsWith(v.results, "not-run"), v.output).toEqual([]);
      expect(idsWith(v.results, "error"), v.output).toEqual([]);
      expect(failed.map((r) => r.id).sort(), failed.map((r) => `${r.id}: ${r.observed}`).join("\n")).toEqual([...scenario.expectFail].sort());
      expect(v.exitCode).toBe(1);
      // Every failure explains itself: ID, expected, observed, what to do.
      for (const f of failed) expect(f.message).toMatch(new RegExp(`${f.id} FAIL: [\\s\\S]*expected: [\\s\\S]*observed: [\\s\\S]*do: `));
    } finally {
      expect((await hostCli(["down", host])).exitCode).toBe(0);
    }
  });
});
