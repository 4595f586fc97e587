import { expect, test } from "vitest";
import { catalogue } from "../../src/checks/index.ts";
import { fixById, fixes } from "../../src/remediation/fixes/index.ts";

// The catalogue names a fix by ID; a name without a fix would silently turn a fixable failure into a manual step.
test("every fixId in the catalogue has a registered fix", () => {
  const missing = catalogue.filter((c) => c.fixId && !fixById(c.fixId)).map((c) => `${c.id} -> ${c.fixId}`);
  expect(missing).toEqual([]);
});

test("fix IDs are unique and every fix cures something (or is the shared app restart)", () => {
  const ids = fixes.map((f) => f.id);
  expect(new Set(ids).size).toBe(ids.length);
  const named = new Set(catalogue.map((c) => c.fixId).filter(Boolean));
  expect(ids.filter((id) => !named.has(id))).toEqual([]);
});

test("fixes are ordered PostgreSQL < role < grants < files < env < unit < migrate < restart < nginx", () => {
  const rank = (id: string) => fixById(id)?.rank ?? Number.NaN;
  const order = [
    "start-postgresql",
    "repair-db-role",
    "grant-schema",
    "fix-permissions",
    "fix-env-permissions",
    "unit-dropin",
    "migrate",
    "restart-service",
    "start-nginx",
  ];
  const ranks = order.map(rank);
  expect(
    ranks.every((r, i) => i === 0 || r > (ranks[i - 1] as number)),
    `${order.map((o, i) => `${o}=${ranks[i]}`).join(" ")}`,
  ).toBe(true);
});
