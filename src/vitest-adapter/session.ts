import { writeFileSync } from "node:fs";
import { narrowTo } from "../checks/index.ts";
import type { Target } from "../fleet/targets.ts";
import type { ProbeContext } from "../probes/context.ts";
import { Evaluator } from "../runner/evaluate.ts";
import { allProbes, runProbes } from "./prefetch.ts";
import { runFiltersNames, runScope } from "./scope.ts";

type Session = { ctx: ProbeContext; evaluator: Evaluator; secrets: Promise<string[]> };
const sessions = new Map<string, Session>();

// A host's probe context and evaluator (undefined: this machine), shared by the run's spec files (one worker,
// isolate: false): a fact or an outcome found by one suite is not asked again by the next.
export function session(target?: Target): Session {
  const key = target?.name ?? "";
  let s = sessions.get(key);
  if (!s) {
    const { ctx, secrets } = runProbes(target);
    const scope = runScope(target?.name);
    narrowTo(ctx, scope);
    s = { ctx, evaluator: new Evaluator(ctx, scope, undefined, { redOutsideFails: runFiltersNames() }), secrets };
    sessions.set(key, s);
  }
  return s;
}

// At the end of each spec file: closes its connections and stops its commands; answered facts stay for the next.
// With DDV_TRANSPORT_STATS=<file>, writes each host's network round trips so far there (for the benchmark).
export async function endSession() {
  const probes = allProbes();
  await Promise.all(probes.map((p) => p.ctx.close()));
  const file = process.env.DDV_TRANSPORT_STATS;
  if (file)
    writeFileSync(
      file,
      JSON.stringify(
        Object.fromEntries(
          probes.map(({ ctx: { transport: t } }) => [
            t.name,
            t.kind === "ssh" ? { roundTrips: t.roundTrips, requests: t.requests } : { roundTrips: 0, requests: 0 },
          ]),
        ),
      ),
    );
}
