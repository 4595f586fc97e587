// PERF-001's load generator against wrk (Debian's) on the same endpoint, connections and duration, inside the host:
// requests per second and p50/p99, each as ours / wrk's.
import { type HostState, execInside } from "../fixtures/host/machine.ts";
import { REPO_ROOT } from "../fixtures/host/paths.ts";
import { type Stats, stats } from "./timing.ts";

export type LoadRun = { rps: number; p50: number; p99: number };
export type LoadComparison = { path: string; connections: number; seconds: number; ours: Record<keyof LoadRun, Stats>; wrk: Record<keyof LoadRun, Stats> };

// wrk's "--latency" distribution value ("50%    3.21ms") in ms.
export function wrkPercentile(out: string, p: number): number {
  const m = out.match(new RegExp(`^\\s*${p}(?:\\.0+)?%\\s+([\\d.]+)(us|ms|s)\\s*$`, "m"));
  if (!m) throw new Error(`no ${p}% line in wrk's output: ${out.slice(0, 300)}`);
  const v = Number(m[1]);
  return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
}

// wrk's "Requests/sec:  1234.56".
export function wrkRps(out: string): number {
  const m = out.match(/^Requests\/sec:\s+([\d.]+)/m);
  if (!m) throw new Error(`no Requests/sec in wrk's output: ${out.slice(0, 300)}`);
  return Number(m[1]);
}

async function ours(state: HostState, path: string, conns: number, seconds: number): Promise<LoadRun> {
  const r = await execInside(state, ["sh", "-c", 'cd "$0" && exec npx tsx bench/load-inside.ts "$@"', REPO_ROOT, path, String(conns), String(seconds)], {
    timeoutMs: 120_000,
  });
  const j = JSON.parse(String(r.stdout).trim().split("\n").at(-1) as string) as LoadRun & { errorRate: number };
  if (j.errorRate > 0.01) throw new Error(`our load generator saw ${(j.errorRate * 100).toFixed(1)}% errors on ${path}`);
  return j;
}

async function wrk(state: HostState, path: string, conns: number, seconds: number): Promise<LoadRun> {
  const r = await execInside(state, ["wrk", "-t2", `-c${conns}`, `-d${seconds}s`, "--latency", "-H", "Host: localhost", `http://127.0.0.1:8000${path}`], {
    timeoutMs: 120_000,
  });
  const out = String(r.stdout);
  // Gunicorn's sync workers close every connection; wrk counts a close it read mid-reconnect as a socket error.
  const errors = Number(out.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
  if (errors) throw new Error(`wrk saw ${errors} error answers on ${path}:\n${out}`);
  return { rps: wrkRps(out), p50: wrkPercentile(out, 50), p99: wrkPercentile(out, 99) };
}

// Alternates the two tools `rounds` times so drift on a shared machine hits both alike.
export async function compareLoad(state: HostState, path: string, conns: number, seconds: number, rounds: number): Promise<LoadComparison> {
  const a: LoadRun[] = [];
  const b: LoadRun[] = [];
  for (let i = 0; i < rounds; i++) {
    a.push(await ours(state, path, conns, seconds));
    b.push(await wrk(state, path, conns, seconds));
  }
  const pick = (runs: LoadRun[]) => ({ rps: stats(runs.map((r) => r.rps)), p50: stats(runs.map((r) => r.p50)), p99: stats(runs.map((r) => r.p99)) });
  return { path, connections: conns, seconds, ours: pick(a), wrk: pick(b) };
}
