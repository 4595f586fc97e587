import { Pool } from "undici";
import type { ProbeContext } from "./context.ts";

export type LoadStats = { path: string; requests: number; p50: number; p95: number; p99: number; errorRate: number };

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number);
}

// Sends up to `total` GETs (for at most `maxSeconds`) with `concurrency` in flight over one undici Pool; 5xx, timeouts and resets count as errors.
export async function measureLoad(ctx: ProbeContext, base: string, path: string, total: number, concurrency: number, maxSeconds: number): Promise<LoadStats> {
  const pool = new Pool(base, { connections: concurrency, connect: { timeout: ctx.config.timeouts.httpMs } });
  const times: number[] = [];
  let errors = 0;
  let next = 0;
  // Bounded in time too, so a slow host costs seconds, not minutes.
  const deadline = performance.now() + maxSeconds * 1000;
  const worker = async () => {
    while (next < total && performance.now() < deadline) {
      next++;
      const t0 = performance.now();
      try {
        const r = await pool.request({ path, method: "GET", headers: { host: ctx.config.hostHeader }, signal: AbortSignal.timeout(ctx.config.timeouts.httpMs) });
        await r.body.dump();
        if (r.statusCode >= 500) errors++;
      } catch {
        errors++;
      }
      times.push(performance.now() - t0);
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    await pool.close();
  }
  times.sort((a, b) => a - b);
  return { path, requests: times.length, p50: percentile(times, 50), p95: percentile(times, 95), p99: percentile(times, 99), errorRate: times.length ? errors / times.length : 1 };
}
