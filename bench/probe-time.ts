// Inside a host: how long the probes and checks themselves take, without vitest around them.
import { catalogue } from "../src/checks/index.ts";
import { loadConfig } from "../src/config/load.ts";
import { ProbeContext } from "../src/probes/context.ts";
import { Evaluator } from "../src/runner/evaluate.ts";
import { createLocalTransport } from "../src/transport/local.ts";

async function timeChecks(ids: string[]) {
  const config = loadConfig();
  const ctx = new ProbeContext(config, createLocalTransport(config.timeouts.commandMs));
  const t0 = performance.now();
  const outcomes = await new Evaluator(ctx).all(ids);
  const ms = performance.now() - t0;
  await ctx.close();
  return { ms, notPassing: outcomes.filter((o) => o.status !== "pass").map((o) => o.id) };
}

const smoke = catalogue.filter((c) => c.smoke).map((c) => c.id);
const noPerf = catalogue.filter((c) => c.suite !== "performance").map((c) => c.id);
const runs = Number(process.argv[2] ?? 5);
const result: Record<string, number[]> = { smoke: [], full_without_performance: [] };
for (let i = 0; i < runs; i++) {
  const s = await timeChecks(smoke);
  const f = await timeChecks(noPerf);
  if (s.notPassing.length || f.notPassing.length) throw new Error(`host not healthy: ${[...s.notPassing, ...f.notPassing].join(", ")}`);
  result.smoke?.push(Math.round(s.ms));
  result.full_without_performance?.push(Math.round(f.ms));
}
process.stdout.write(`${JSON.stringify(result)}\n`);
