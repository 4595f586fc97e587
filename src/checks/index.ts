import type { ProbeContext } from "../probes/context.ts";
import type { Check } from "./define.ts";
import { databaseChecks } from "./database.ts";
import { fsChecks } from "./fs-permissions.ts";
import { httpChecks } from "./http.ts";
import { performanceChecks } from "./performance.ts";
import { securityChecks } from "./security.ts";
import { serviceChecks } from "./service.ts";

// Every check, in report order. Add a check to its suite's file; it shows up here and in the specs.
export const catalogue: readonly Check[] = [...serviceChecks, ...httpChecks, ...databaseChecks, ...fsChecks, ...securityChecks, ...performanceChecks];

const byId = new Map(catalogue.map((c) => [c.id, c]));

// The check with this ID; throws for an unknown ID (a typo in dependsOn or a report from another tool).
export function checkById(id: string): Check {
  const c = byId.get(id);
  if (!c) throw new Error(`unknown check ID ${JSON.stringify(id)}`);
  return c;
}

// Narrows a run to these checks: probes skip what none of them reads (the Python start's costly parts).
export function narrowTo(ctx: ProbeContext, ids: ReadonlySet<string>) {
  ctx.scope = ids;
  ctx.reads = new Set([...ids].flatMap((id) => byId.get(id)?.reads ?? []));
}

// Catalogue invariants, enforced at import: unique IDs, known dependencies, no cycles, and every critical
// check in the smoke gate (a critical failure must always turn the gate red).
function assertCatalogue() {
  if (byId.size !== catalogue.length) throw new Error("duplicate check ID in the catalogue");
  for (const c of catalogue) if (c.severity === "critical" && !c.smoke) throw new Error(`${c.id} is critical but not in the smoke gate`);
  for (const c of catalogue) for (const d of c.dependsOn) if (!byId.has(d)) throw new Error(`${c.id} depends on unknown ${d}`);
  const visiting = new Set<string>();
  const visit = (id: string, path: string[]) => {
    if (path.includes(id)) throw new Error(`dependency cycle: ${[...path, id].join(" -> ")}`);
    if (visiting.has(id)) return;
    visiting.add(id);
    for (const d of checkById(id).dependsOn) visit(d, [...path, id]);
  };
  for (const c of catalogue) visit(c.id, []);
}
assertCatalogue();
