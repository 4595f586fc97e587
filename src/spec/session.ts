import { loadConfig } from "../config/load.ts";
import { ProbeContext } from "../probes/context.ts";
import { secretValues, serviceEnv } from "../probes/environment.ts";
import { Evaluator } from "../runner/evaluate.ts";
import { createLocalTransport } from "../transport/local.ts";

type Session = { ctx: ProbeContext; evaluator: Evaluator; secrets: Promise<string[]> };
let current: Session | undefined;

// The run's one probe context and evaluator, shared by every spec file in the worker (isolate: false).
export function session(): Session {
  if (!current) {
    const config = loadConfig();
    const ctx = new ProbeContext(config, createLocalTransport(config.timeouts.commandMs));
    const secrets = serviceEnv(ctx).then((e) => secretValues(e.env), () => [] as string[]);
    current = { ctx, evaluator: new Evaluator(ctx), secrets };
  }
  return current;
}

// Closes pooled connections; the next spec file (if any) gets a fresh session.
export async function endSession() {
  const s = current;
  current = undefined;
  await s?.ctx.close();
}
