// Inside a host: how long the checks themselves take (probes + judgement, no vitest), each round in a fresh
// probe context scoped like the vitest run it stands for. Prints one JSON line: { smoke: [ms...], full_without_performance: [...] }.
// Usage: npx tsx bench/probe-time.ts [rounds]
import { catalogue } from "../src/checks/index.ts";
import { loadConfig } from "../src/config/load.ts";
import { ProbeContext } from "../src/probes/context.ts";
import { forgetServiceFacts } from "../src/probes/service-facts.ts";
import { learnSecrets } from "../src/probes/secrets.ts";
import { Evaluator } from "../src/runner/evaluate.ts";
import { createLocalTransport } from "../src/transport/local.ts";

async function timeChecks(ids: string[]) {
  forgetServiceFacts(); // each round starts Python again, as a new vitest run would
  const config = loadConfig();
  const ctx = new ProbeContext(config, createLocalTransport(config.timeouts.commandMs));
  ctx.scope = new Set(ids);
  const t0 = performance.now();
  ctx.secrets = await learnSecrets(ctx);
  const outcomes = await new Evaluator(ctx, ctx.scope).all(ids);
  const ms = performance.now() - t0;
  await ctx.close();
  return { ms, notPassing: outcomes.filter((o) => o.status !== "pass" && o.status !== "skip").map((o) => `${o.id}: ${o.observed}`) };
}

const smoke = catalogue.filter((c) => c.smoke).map((c) => c.id);
const noPerf = catalogue.filter((c) => c.suite !== "performance").map((c) => c.id);
const rounds = Number(process.argv[2] ?? 5);
const result: Record<string, number[]> = { smoke: [], full_without_performance: [] };
for (let i = 0; i < rounds; i++) {
  const s = await timeChecks(smoke);
  const f = await timeChecks(noPerf);
  if (s.notPassing.length || f.notPassing.length) throw new Error(`host not healthy: ${[...s.notPassing, ...f.notPassing].join("; ")}`);
  result.smoke?.push(Math.round(s.ms));
  result.full_without_performance?.push(Math.round(f.ms));
}
process.stdout.write(`${JSON.stringify(result)}\n`);
