import { gunicornBase } from "../src/probes/endpoint.ts";
// Inside a host: PERF-001's load generator (src/probes/load.ts) alone on one path for a fixed time, as JSON.
// Usage: npx tsx bench/load-inside.ts PATH CONNECTIONS SECONDS
import { loadConfig } from "../src/config/load.ts";
import { ProbeContext } from "../src/probes/context.ts";
import { measureLoad } from "../src/probes/load.ts";
import { createLocalTransport } from "../src/transport/local.ts";

const [path = "/health/", conns = "8", seconds = "5"] = process.argv.slice(2);
const config = loadConfig();
const ctx = new ProbeContext(config, createLocalTransport(config.timeouts.commandMs));
const t0 = performance.now();
const s = await measureLoad(ctx, await gunicornBase(ctx), path, Number.MAX_SAFE_INTEGER, Number(conns), Number(seconds));
const secs = (performance.now() - t0) / 1000;
await ctx.close();
process.stdout.write(`${JSON.stringify({ requests: s.requests, rps: s.requests / secs, p50: s.p50, p99: s.p99, errorRate: s.errorRate })}\n`);
