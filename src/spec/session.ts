import { loadConfig } from "../config/load.ts";
import { ProbeContext } from "../probes/context.ts";
import { parseEnvFile, secretValues, serviceEnv } from "../probes/environment.ts";
import { Evaluator } from "../runner/evaluate.ts";
import { createLocalTransport } from "../transport/local.ts";

type Session = { ctx: ProbeContext; evaluator: Evaluator; secrets: Promise<string[]> };
let current: Session | undefined;

// Learns the service's secrets before any check speaks: from the running process, else from the env files
// we can read, so redaction does not silently turn off when one source is unreadable.
async function learnSecrets(ctx: ProbeContext): Promise<string[]> {
  let env: Record<string, string> = {};
  try {
    env = (await serviceEnv(ctx)).env;
  } catch {
    for (const f of ctx.config.envFiles) Object.assign(env, parseEnvFile(await ctx.transport.readFile(f).catch(() => "")));
  }
  ctx.secrets = secretValues(env);
  return ctx.secrets;
}

// The probe context and evaluator of one spec file (one suite, or the smoke gate); probes are memoised in it.
export function session(): Session {
  if (!current) {
    const config = loadConfig();
    const ctx = new ProbeContext(config, createLocalTransport(config.timeouts.commandMs));
    current = { ctx, evaluator: new Evaluator(ctx), secrets: learnSecrets(ctx) };
  }
  return current;
}

// Closes pooled connections; the next spec file (if any) gets a fresh session.
export async function endSession() {
  const s = current;
  current = undefined;
  await s?.ctx.close();
}
