import { gunicornBase } from "../probes/endpoint.ts";
import { healthPlan } from "../probes/health-plan.ts";
import { measureLoad } from "../probes/load.ts";
import { cpuLimit, unitRssMb } from "../probes/process.ts";
import { gunicornSettings } from "../probes/gunicorn.ts";
import { defineCheck, fail, pass } from "./define.ts";

export const performanceChecks = [
  defineCheck(
    {
      id: "PERF-001",
      reads: ["gunicorn-config"],
      title: "Health and API latency and error rate under a short load",
      suite: "performance",
      severity: "medium",
      expects:
        "for the first health path and the API path, each loaded through Gunicorn (thresholds.loadRequests GETs, loadConcurrency at once, at most " +
        "loadMaxSeconds): p95 <= thresholds.p95Ms, p99 <= thresholds.p99Ms, and the share of 5xx, timeouts and resets <= thresholds.maxErrorRate",
      recommendation: "Find the slow path (journal, access log times); add Gunicorn workers/threads if CPU allows, or fix the slow code",
      // The load goes to the API's refusal path; if anonymous requests reach the database, we do not load it.
      dependsOn: ["HTTP-001", "HTTP-004"],
    },
    {
      // Latency seen through an ssh tunnel is the tunnel's, not the app's: a remote run would judge the wrong thing.
      skipIf: (ctx) =>
        ctx.transport.kind === "ssh" ? "load is timed on the host itself (through ssh it would time the tunnel): run specs/performance on the host" : undefined,
      async run(ctx) {
        const t = ctx.config.thresholds;
        const paths = [(await healthPlan(ctx)).paths[0] as string, ...(ctx.config.apiPath ? [ctx.config.apiPath] : [])];
        const stats = [];
        for (const p of paths) stats.push(await measureLoad(ctx, await gunicornBase(ctx), p, t.loadRequests, t.loadConcurrency, t.loadMaxSeconds));
        const text = stats
          .map((s) => `${s.path}: p50 ${s.p50} ms, p95 ${s.p95} ms, p99 ${s.p99} ms, errors ${(s.errorRate * 100).toFixed(1)}% of ${s.requests}`)
          .join("; ");
        const bad = stats.some((s) => s.p95 > t.p95Ms || s.p99 > t.p99Ms || s.errorRate > t.maxErrorRate);
        return bad ? fail(`${text} (limits p95 ${t.p95Ms} ms, p99 ${t.p99Ms} ms, errors ${t.maxErrorRate * 100}%)`) : pass(text);
      },
    },
  ),
  defineCheck(
    {
      id: "PERF-002",
      title: "Gunicorn memory stays under the limit",
      suite: "performance",
      severity: "medium",
      expects: "the summed VmRSS of the unit's processes is at most thresholds.maxRssMb MiB",
      recommendation: "Lower workers, set --max-requests to recycle leaking workers, or find what the app loads at import",
      dependsOn: ["SVC-001"],
    },
    {
      async run(ctx) {
        const m = await unitRssMb(ctx);
        const s =
          `${m.totalMb} MiB across ${m.processes} processes${m.vanished ? ` (${m.vanished} exited while measured)` : ""} ` +
          `(limit ${ctx.config.thresholds.maxRssMb} MiB)`;
        return m.totalMb <= ctx.config.thresholds.maxRssMb ? pass(s) : fail(s);
      },
    },
  ),
  defineCheck(
    {
      id: "PERF-003",
      reads: ["gunicorn-config"],
      title: "Gunicorn worker count fits the CPUs",
      suite: "performance",
      severity: "low",
      expects:
        "2 <= Gunicorn's effective worker count (as its config loader resolves command line, GUNICORN_CMD_ARGS, " +
        "config file and WEB_CONCURRENCY) <= 2 x usable CPUs + 1 (CPUs: the service's affinity and cgroup quota, may be fractional)",
      recommendation: "Set --workers to 2 x CPUs + 1 at most (use --threads for more concurrency)",
      dependsOn: ["SVC-016"],
    },
    {
      async run(ctx) {
        const [{ workers, source }, cpu] = await Promise.all([gunicornSettings(ctx), cpuLimit(ctx)]);
        const cpus = cpu.cpus;
        const max = 2 * cpus + 1;
        const s = `workers=${workers} on ${cpus} CPUs (${cpu.source}; allowed 2..${Math.floor(max)}); read by ${source}`;
        return workers >= 2 && workers <= max ? pass(s) : fail(s);
      },
    },
  ),
];
