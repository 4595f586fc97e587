import type { ProbeContext } from "./context.ts";
import { parseEnvFile, secretValues, serviceEnv } from "./environment.ts";

// Learns the service's secrets before any check speaks: from the running process, else from the env files
// we can read, so redaction does not silently turn off when one source is unreadable.
export async function learnSecrets(ctx: ProbeContext): Promise<string[]> {
  let env: Record<string, string> = {};
  try {
    env = (await serviceEnv(ctx)).env;
  } catch {
    for (const f of ctx.config.envFiles) Object.assign(env, parseEnvFile(await ctx.transport.readFile(f).catch(() => "")));
  }
  ctx.secrets = secretValues(env);
  return ctx.secrets;
}
