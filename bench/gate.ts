// The smoke gate and the full diagnosis against vitest's own floor, inside the benchmark host, and where the gate's
// time goes: vitest's phase totals, the cost of each part of our config (taken away one at a time), the slowest
// imports, and the checks' own work.
import { type HostState, execInside } from "../fixtures/host/machine.ts";
import { REPO_ROOT } from "../fixtures/host/paths.ts";
import { type Stats, stats, wallInside } from "./timing.ts";

const VITEST = "node_modules/.bin/vitest";
const FLOOR = ["--config", "bench/floor/vitest.config.ts"];
const SUITES_NO_PERF = ["specs/service", "specs/http", "specs/database", "specs/fs-permissions", "specs/security"];
// vitest's transform cache (experimental.fsModuleCache): removed before each cold round.
const CLEAR_CACHE = "rm -rf node_modules/.experimental-vitest-cache";
const REPORTS = { DDV_REPORTS_DIR: "reports/bench" };

export type Gate = {
  floor: { plain: Stats; npx: Stats };
  smoke: { coldPlain: Stats; warmPlain: Stats; coldNpx: Stats; warmNpx: Stats };
  fullNoPerf: Stats;
  phases: Record<string, number>;
  parts: Record<string, Stats>;
  imports: string[];
  checksOwn: { smoke: Stats; fullNoPerf: Stats };
};

// vitest's "Duration 1.51s (transform 83ms, setup 67ms, import 371ms, tests 721ms, environment 0ms)" in ms.
export function parseDuration(out: string): Record<string, number> {
  const m = out.match(/Duration\s+([\d.]+)(m?s)\s*\(([^)]*)\)/);
  if (!m) return {};
  const ms = (v: string, unit: string) => Math.round(Number(v) * (unit === "s" ? 1000 : 1));
  const phases: Record<string, number> = { total: ms(m[1] as string, m[2] as string) };
  for (const p of (m[3] as string).split(",")) {
    const pm = p.trim().match(/^(\w+) ([\d.]+)(m?s)$/);
    if (pm) phases[pm[1] as string] = ms(pm[2] as string, pm[3] as string);
  }
  return phases;
}

async function outputInside(state: HostState, argv: string[], env: Record<string, string> = {}): Promise<string> {
  const r = await execInside(state, ["sh", "-c", 'cd "$0" && exec "$@" 2>&1', REPO_ROOT, ...argv], {
    env: { NO_COLOR: "1", ...REPORTS, ...env },
    timeoutMs: 600_000,
  });
  return String(r.stdout);
}

// Every gate figure, `rounds` times each.
export async function measureGate(state: HostState, rounds: number, log: (s: string) => void): Promise<Gate> {
  const w = (argv: string[], env: Record<string, string> = {}, opts = {}) => wallInside(state, argv, rounds, { ...REPORTS, ...env }, opts).then(stats);
  const floor = { plain: await w([VITEST, "run", ...FLOOR]), npx: await w(["npx", "vitest", "run", ...FLOOR]) };
  log(`  floor: ${floor.plain.median} ms (npx ${floor.npx.median} ms)`);
  const smoke = {
    coldPlain: await w([VITEST, "run", "specs/smoke"], {}, { before: CLEAR_CACHE, warmup: false }),
    warmPlain: await w([VITEST, "run", "specs/smoke"]),
    coldNpx: await w(["npx", "vitest", "run", "specs/smoke"], {}, { before: CLEAR_CACHE, warmup: false }),
    warmNpx: await w(["npx", "vitest", "run", "specs/smoke"]),
  };
  log(`  smoke gate: cold ${smoke.coldPlain.median} ms, warm ${smoke.warmPlain.median} ms (npx: ${smoke.coldNpx.median} / ${smoke.warmNpx.median} ms)`);
  const fullNoPerf = await w([VITEST, "run", ...SUITES_NO_PERF]);
  log(`  full diagnosis without performance: ${fullNoPerf.median} ms`);
  // Each part of our config, taken away alone (bench/ablate.config.ts): its cost is the difference to the whole.
  // Variants alternate within each round, so the machine's drift hits them alike.
  const drops = ["", "allure", "json", "junit", "setupFiles", "globalSetup", "reporters,setupFiles,globalSetup"];
  const partRuns = new Map<string, number[]>(drops.map((d) => [d, []]));
  for (let i = 0; i < rounds; i++)
    for (const drop of drops)
      partRuns
        .get(drop)
        ?.push(
          ...(await wallInside(
            state,
            [VITEST, "run", "--config", "bench/ablate.config.ts", "specs/smoke"],
            1,
            { ...REPORTS, DDV_BENCH_DROP: drop },
            { warmup: i === 0 },
          )),
        );
  const parts: Record<string, Stats> = Object.fromEntries(drops.map((d) => [d || "nothing", stats(partRuns.get(d) ?? [])]));
  const out = await outputInside(state, [VITEST, "run", "specs/smoke", "--experimental.importDurations.print", "--experimental.importDurations.limit=12"]);
  const phases = parseDuration(out);
  const imports = out
    .split("\n")
    .filter((l) => /^(src|specs|node_modules)\/\S+\s+\d+ms\s+\d+ms/.test(l.trim()))
    .map((l) => l.trim().replace(/\s+[█░]+$/, ""));
  const own = JSON.parse((await outputInside(state, ["npx", "tsx", "bench/probe-time.ts", String(rounds)])).trim().split("\n").at(-1) as string) as Record<
    string,
    number[]
  >;
  return {
    floor,
    smoke,
    fullNoPerf,
    phases,
    parts,
    imports,
    checksOwn: { smoke: stats(own.smoke ?? []), fullNoPerf: stats(own.full_without_performance ?? []) },
  };
}
