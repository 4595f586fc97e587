import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { catalogue } from "../../src/checks/index.ts";
import { SUITES } from "../../src/checks/define.ts";
import { listScenarios, loadScenario } from "../../fixtures/host/scenarios.ts";
import { REPO_ROOT } from "../../fixtures/host/paths.ts";

const scenarios = await Promise.all((await listScenarios()).map(loadScenario));

describe("the check catalogue", () => {
  test("every suite has checks and every check has a recommendation a person can follow", () => {
    for (const s of SUITES) expect(catalogue.filter((c) => c.suite === s).length, s).toBeGreaterThan(0);
    for (const c of catalogue) expect(c.recommendation.length, c.id).toBeGreaterThan(15);
  });

  test("IDs are static literals in the source, never built at run time", () => {
    const dir = path.join(REPO_ROOT, "src/checks");
    const source = readdirSync(dir)
      .map((f) => readFileSync(path.join(dir, f), "utf8"))
      .join("\n");
    for (const c of catalogue) expect(source, c.id).toContain(`id: "${c.id}"`);
  });

  test("every check ID fails in at least one fault scenario", () => {
    const covered = new Set(scenarios.flatMap((s) => s.expectFail));
    const uncovered = catalogue.map((c) => c.id).filter((id) => !covered.has(id));
    expect(uncovered, "add a scenario in fixtures/scenarios that makes these fail").toEqual([]);
  });

  test("scenarios only name checks that exist", () => {
    const known = new Set(catalogue.map((c) => c.id));
    for (const s of scenarios) for (const id of s.expectFail) expect(known.has(id), `${s.name} names ${id}`).toBe(true);
  });

  test("there are at least eight smoke checks and twenty scenarios", () => {
    expect(catalogue.filter((c) => c.smoke).length).toBeGreaterThanOrEqual(8);
    expect(scenarios.length).toBeGreaterThanOrEqual(20);
  });
});
