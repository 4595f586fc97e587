// Benchmark: boots a healthy reference host and times the validator inside it. Prints a Markdown table.
// Usage: npx tsx bench/run.ts [runs]   (as root; builds the image first if needed)
import { execa } from "execa";
import { catalogue } from "../src/checks/index.ts";
import { SUITES } from "../src/checks/define.ts";
import { buildImage } from "../fixtures/host/image.ts";
import { up } from "../fixtures/host/index.ts";
import { execInside, teardown } from "../fixtures/host/machine.ts";
import { REPO_ROOT } from "../fixtures/host/paths.ts";

const runs = Number(process.argv[2] ?? 5);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function timeInside(state: Awaited<ReturnType<typeof up>>, args: string[]): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    const script = 'cd "$0" && s=$(date +%s%N) && npx vitest run "$@" >/dev/null 2>&1; rc=$?; e=$(date +%s%N); echo "$rc $(( (e - s) / 1000000 ))"';
    const r = await execInside(state, ["sh", "-c", script, REPO_ROOT, ...args], { env: { DDV_REPORTS_DIR: "reports/bench" } });
    const [rc, ms] = String(r.stdout).trim().split(" ").map(Number);
    if (rc !== 0) throw new Error(`npx vitest run ${args.join(" ")} exited ${rc} on the healthy host`);
    if (i > 0) out.push(ms as number); // the first run warms vite's cache
  }
  return out;
}

await buildImage();
const t0 = performance.now();
const state = await up({ name: `bench-${process.pid}` });
const bootMs = performance.now() - t0;
try {
  const smoke = await timeInside(state, ["specs/smoke"]);
  const full = await timeInside(state, ["specs/service", "specs/http", "specs/database", "specs/fs-permissions", "specs/security"]);
  const everything = await timeInside(state, []);
  const probes = await execInside(state, ["sh", "-c", 'cd "$0" && npx tsx bench/probe-time.ts "$1"', REPO_ROOT, String(runs)]);
  const p = JSON.parse(String(probes.stdout).trim().split("\n").at(-1) as string) as Record<string, number[]>;
  const cpu = (await execa("nproc")).stdout;
  const rows = [
    ["host boot to running + Gunicorn answering (`host up`, in-process)", `${(bootMs / 1000).toFixed(1)} s`],
    ["`npx vitest run specs/smoke`, wall, inside the host", `${median(smoke)} ms (runs: ${smoke.join(", ")})`],
    ["smoke checks' own work (probes + judgement, no vitest)", `${median(p.smoke ?? [])} ms (runs: ${(p.smoke ?? []).join(", ")})`],
    ["full suite without performance, wall", `${median(full)} ms (runs: ${full.join(", ")})`],
    ["full suite without performance, own work", `${median(p.full_without_performance ?? [])} ms`],
    ["`npx vitest run` (all six suites), wall", `${median(everything)} ms`],
  ];
  process.stdout.write(`\nMeasured on ${cpu} CPUs, median of ${runs} runs after one warm-up run.\n\n| what | time |\n|---|---|\n${rows.map((r) => `| ${r[0]} | ${r[1]} |`).join("\n")}\n`);
  process.stdout.write(`\n| suite | checks | smoke |\n|---|---|---|\n${SUITES.map((s) => `| ${s} | ${catalogue.filter((c) => c.suite === s).length} | ${catalogue.filter((c) => c.suite === s && c.smoke).length} |`).join("\n")}\n| all | ${catalogue.length} | ${catalogue.filter((c) => c.smoke).length} |\n`);
} finally {
  await teardown(state.name);
}
