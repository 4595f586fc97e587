// Wall-clock timing of commands inside the benchmark host, and the min/median/max every figure is reported as.
import { type HostState, execInside } from "../fixtures/host/machine.ts";
import { REPO_ROOT } from "../fixtures/host/paths.ts";

export type Stats = { min: number; median: number; max: number; runs: number[] };

// min, median and max of a list of milliseconds (rounded).
export function stats(runs: number[]): Stats {
  const s = [...runs].sort((a, b) => a - b);
  return { min: Math.round(s[0] ?? 0), median: Math.round(s[Math.floor(s.length / 2)] ?? 0), max: Math.round(s.at(-1) ?? 0), runs: runs.map(Math.round) };
}

// Runs argv `rounds` times (after one warm-up unless `warmup` is false) from the checkout inside the host and
// returns each run's wall time in ms, measured inside the host; a non-zero exit stops the benchmark.
export async function wallInside(
  state: HostState,
  argv: string[],
  rounds: number,
  env: Record<string, string> = {},
  opts: { warmup?: boolean; before?: string } = {},
): Promise<number[]> {
  const script = `cd "$0" && ${opts.before ?? ":"} && s=$(date +%s%N) && "$@" >/tmp/bench.out 2>&1; rc=$?; e=$(date +%s%N); echo "$rc $(( (e - s) / 1000 ))"; [ $rc = 0 ] || tail -20 /tmp/bench.out >&2`;
  const out: number[] = [];
  const total = rounds + (opts.warmup === false ? 0 : 1);
  for (let i = 0; i < total; i++) {
    const r = await execInside(state, ["sh", "-c", script, REPO_ROOT, ...argv], { env: { NO_COLOR: "1", ...env }, timeoutMs: 600_000 });
    const [rc, us] = String(r.stdout).trim().split(" ").map(Number);
    if (rc !== 0) throw new Error(`${argv.join(" ")} exited ${rc} in the benchmark host:\n${String(r.stderr).trim()}`);
    if (i >= total - rounds) out.push((us as number) / 1000);
  }
  return out;
}
