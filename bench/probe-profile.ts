// Inside a host: which probes and commands the first (cold-process) evaluation of a set of checks waits on.
// Usage: npx tsx bench/probe-profile.ts [smoke|all]
import { catalogue } from "../src/checks/index.ts";
import { loadConfig } from "../src/config/load.ts";
import { ProbeContext } from "../src/probes/context.ts";
import { learnSecrets } from "../src/probes/secrets.ts";
import { Evaluator } from "../src/runner/evaluate.ts";
import { createLocalTransport } from "../src/transport/local.ts";

const which = process.argv[2] ?? "smoke";
const ids = catalogue.filter((c) => (which === "smoke" ? c.smoke : c.suite !== "performance")).map((c) => c.id);
const config = loadConfig();
const transport = createLocalTransport(config.timeouts.commandMs);
const rows: Array<[string, number, number]> = [];
const t0 = performance.now();
const run = transport.run.bind(transport);
transport.run = async (argv, opts) => {
  const s = performance.now() - t0;
  const r = await run(argv, opts);
  rows.push([`cmd ${argv.join(" ").slice(0, 90)}`, s, performance.now() - t0]);
  return r;
};
const ctx = new ProbeContext(config, transport);
ctx.scope = new Set(ids); // as a vitest run of these checks alone
const once = ctx.once.bind(ctx);
ctx.once = (key, fn) =>
  once(key, async () => {
    const s = performance.now() - t0;
    try {
      return await fn();
    } finally {
      rows.push([`probe ${key.slice(0, 80)}`, s, performance.now() - t0]);
    }
  });
ctx.secrets = await learnSecrets(ctx);
const ev = new Evaluator(ctx);
// DDV_SEQUENTIAL=1: one check at a time, so each probe's own cost shows without the others competing.
const outcomes = [];
if (process.env.DDV_SEQUENTIAL) for (const id of ids) outcomes.push(await ev.evaluate(id));
else outcomes.push(...(await ev.all(ids)));
const total = performance.now() - t0;
for (const o of outcomes.sort((a, b) => b.durationMs - a.durationMs).slice(0, 8)) rows.push([`check ${o.id} ${o.status}`, total - o.durationMs, total]);
await ctx.close();
rows.sort((a, b) => a[2] - b[2]);
for (const [what, s, e] of rows)
  process.stdout.write(`${s.toFixed(0).padStart(5)} → ${e.toFixed(0).padStart(5)} (${(e - s).toFixed(0).padStart(4)} ms)  ${what}\n`);
process.stdout.write(`total ${total.toFixed(0)} ms for ${ids.length} checks\n`);
