import { loadConfig } from "../config/load.ts";
import { ProbeContext } from "../probes/context.ts";
import { learnSecrets } from "../probes/secrets.ts";
import { Evaluator } from "../runner/evaluate.ts";
import { createLocalTransport } from "../transport/local.ts";
import { runScope } from "./scope.ts";

type Session = { ctx: ProbeContext; evaluator: Evaluator; secrets: Promise<string[]> };
let current: Session | undefined;

// The probe context and evaluator of one spec file (one suite, or the smoke gate); probes are memoised in it.
export function session(): Session {
  if (!current) {
    const config = loadConfig();
    const ctx = new ProbeContext(config, createLocalTransport(config.timeouts.commandMs));
    ctx.scope = runScope();
    current = { ctx, evaluator: new Evaluator(ctx, ctx.scope), secrets: learnSecrets(ctx) };
  }
  return current;
}

// Closes pooled connections; the next spec file (if any) gets a fresh session.
export async function endSession() {
  const s = current;
  current = undefined;
  await s?.ctx.close();
}
