import type { ProbeContext } from "../probes/context.ts";
import { Evaluator } from "../runner/evaluate.ts";
import { runProbes } from "./prefetch.ts";
import { runScope } from "./scope.ts";

type Session = { ctx: ProbeContext; evaluator: Evaluator; secrets: Promise<string[]> };
let current: Session | undefined;

// The run's probe context and evaluator, shared by its spec files (one worker, isolate: false): a fact or an
// outcome found by one suite is not asked again by the next.
export function session(): Session {
  if (!current) {
    const { ctx, secrets } = runProbes();
    ctx.scope = runScope();
    current = { ctx, evaluator: new Evaluator(ctx, ctx.scope), secrets };
  }
  return current;
}

// At the end of each spec file: closes its connections and stops its commands; answered facts stay for the next.
export async function endSession() {
  await current?.ctx.close();
}
