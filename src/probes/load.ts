import { Pool } from "undici";
import { httpConnect, unixConnect } from "./tunnel.ts";
import type { ProbeContext } from "./context.ts";
import { STALE_CONNECTION, socketOf } from "./http.ts";

export type LoadStats = { path: string; requests: number; p50: number; p95: number; p99: number; errorRate: number };

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number);
}

// One GET through undici's dispatch handler API: the status, or 599 for a timeout or reset. No body stream, no
// promise per chunk: the generator's CPU comes from the two cores the app is being measured on. A kept-alive
// connection the server closed as we sent (a worker recycled by --max-requests) is tried once more, as clients do.
function get(pool: Pool, path: string, headers: Record<string, string>, retry = true): Promise<number> {
  return new Promise((resolve) => {
    let status = 599;
    pool.dispatch(
      { path, method: "GET", headers },
      {
        onRequestStart: () => {}, // marks the new handler API for undici's checks
        onResponseStart: (_c, code) => {
          status = code;
        },
        onResponseData: () => {},
        onResponseEnd: () => resolve(status),
        onResponseError: (_c, err) => {
          const code = (err as { code?: string }).code ?? "";
          if (retry && STALE_CONNECTION.has(code)) get(pool, path, headers, false).then(resolve);
          else resolve(599);
        },
      },
    );
  });
}

// Sends up to `total` GETs (for at most `maxSeconds`) with `concurrency` in flight over one undici Pool; 5xx, timeouts and resets count as errors.
export async function measureLoad(ctx: ProbeContext, base: string, path: string, total: number, concurrency: number, maxSeconds: number): Promise<LoadStats> {
  // undici's own per-request timers (headersTimeout, bodyTimeout): an AbortSignal per request costs the app CPU it shares.
  const ms = ctx.config.timeouts.httpMs;
  const unix = socketOf(base);
  const connect = unix ? unixConnect(ctx, unix, ms) : httpConnect(ctx, ms);
  const pool = new Pool(unix ? "http://localhost" : base, { connections: concurrency, connect, headersTimeout: ms, bodyTimeout: ms });
  const times: number[] = [];
  const headers = { host: ctx.config.hostHeader };
  let errors = 0;
  let next = 0;
  // Bounded in time too, so a slow host costs seconds, not minutes.
  const deadline = performance.now() + maxSeconds * 1000;
  const worker = async () => {
    while (next < total && performance.now() < deadline) {
      next++;
      const t0 = performance.now();
      if ((await get(pool, path, headers)) >= 500) errors++;
      times.push(performance.now() - t0);
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    await pool.close();
  }
  times.sort((a, b) => a - b);
  return {
    path,
    requests: times.length,
    p50: percentile(times, 50),
    p95: percentile(times, 95),
    p99: percentile(times, 99),
    errorRate: times.length ? errors / times.length : 1,
  };
}
