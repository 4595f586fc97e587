import type { ProbeContext } from "./context.ts";
import { readEnvFiles, serviceEnv, unitEnv } from "./environment.ts";
import { learnFromEnv, type LearnedSecrets } from "./redact.ts";

// The service's secrets and where they were learned from; `variables`: how many variables those sources held.
export type SecretFacts = LearnedSecrets & { sources: string[]; variables: number };

// Learns the secrets of every environment the service has or will have: the running process's (or serviceEnv's
// fallback), and the unit's Environment= and env files (what the next restart uses, and what a check may quote);
// when systemd cannot be asked, config.envFiles. One unreadable source never turns redaction off.
export function secretFacts(ctx: ProbeContext): Promise<SecretFacts> {
  return ctx.once("secrets:learned", async () => {
    const envs: Array<Record<string, string>> = [];
    const sources: string[] = [];
    const [running, unit] = await Promise.allSettled([serviceEnv(ctx), unitEnv(ctx)]);
    if (running.status === "fulfilled") {
      envs.push(running.value.env);
      sources.push(running.value.source);
    }
    if (unit.status === "fulfilled") {
      envs.push(unit.value.env);
      sources.push(`the unit's env files ${unit.value.paths.join(", ")}`);
    } else {
      const files = await readEnvFiles(ctx, ctx.config.envFiles);
      envs.push(files.env);
      sources.push(`the configured env files ${ctx.config.envFiles.join(", ")}`);
    }
    const values = new Set<string>();
    const tooShort = new Set<string>();
    for (const env of envs) {
      const l = learnFromEnv(env, ctx.config.secrets);
      for (const v of l.values) values.add(v);
      for (const n of l.tooShort) tooShort.add(n);
    }
    const variables = new Set(envs.flatMap((e) => Object.keys(e))).size;
    return { values: [...values].sort((a, b) => b.length - a.length), tooShort: [...tooShort].sort(), sources, variables };
  });
}

// Learns the service's secrets before any check speaks and arms ctx.clip with them; returns the values to mask.
export async function learnSecrets(ctx: ProbeContext): Promise<string[]> {
  const facts = await secretFacts(ctx);
  // Merged into the one array every redaction holds (Django's database password may have joined it already).
  for (const v of facts.values) if (!ctx.secrets.includes(v)) ctx.secrets.push(v);
  ctx.secrets.sort((a, b) => b.length - a.length);
  return ctx.secrets;
}

// Names (never values) of the variables whose secret is too short to mask safely (under config.secrets.minLength
// characters): such a secret shows in reports as is, and is weak anyway. A check fails when the list is not empty.
// Throws when no environment of the service could be read at all: then nothing was judged.
export async function shortSecrets(ctx: ProbeContext): Promise<string[]> {
  const f = await secretFacts(ctx);
  if (!f.variables)
    throw new Error(`no variable of the service's environment could be read (tried ${f.sources.join("; ") || "nothing"}): secret lengths not judged`);
  return f.tooShort;
}

// What SEC-011 judges: names of secrets too short to mask, how many secret values are long enough, and where they
// were read. Throws when no environment of the service could be read at all: then nothing was judged.
export async function secretLengths(ctx: ProbeContext): Promise<{ tooShort: string[]; masked: number; sources: string[] }> {
  const f = await secretFacts(ctx);
  return { tooShort: await shortSecrets(ctx), masked: f.values.length, sources: f.sources };
}
