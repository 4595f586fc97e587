// Benchmark: broken → green. For each scenario, boots a host, validates it (red), runs
// `remediate --from-report --yes`, validates again (green), and prints the times as a Markdown table.
// Usage: npx tsx bench/remediation.ts SCENARIO...   (as root; builds the image first if needed)
import { buildImage } from "../fixtures/host/image.ts";
import { up } from "../fixtures/host/index.ts";
import { execInside, teardown } from "../fixtures/host/machine.ts";
import { REPO_ROOT } from "../fixtures/host/paths.ts";
import { listScenarios } from "../fixtures/host/scenarios.ts";

const scenarios = process.argv.slice(2);
if (!scenarios.length) {
  process.stderr.write("usage: npx tsx bench/remediation.ts SCENARIO...\n");
  process.exit(64);
}
const known = await listScenarios();
const unknown = scenarios.filter((s) => !known.includes(s));
if (unknown.length) {
  process.stderr.write(`bench/remediation: no such scenario: ${unknown.join(", ")} (see fixtures/scenarios/)\n`);
  process.exit(64);
}

type State = Awaited<ReturnType<typeof up>>;

// Runs a shell line inside the host from the checkout; resolves its exit code and wall time.
async function timed(state: State, line: string): Promise<{ rc: number; ms: number; out: string }> {
  const t0 = performance.now();
  const r = await execInside(state, ["sh", "-c", `cd "$0" && ${line}`, REPO_ROOT], { timeoutMs: 600_000 });
  return { rc: r.exitCode ?? -1, ms: performance.now() - t0, out: `${r.stdout}\n${r.stderr}` };
}

await buildImage();
const rows: string[] = [];
for (const name of scenarios) {
  const state = await up({ name: `bench-rm-${process.pid}`, scenario: name });
  try {
    const dir = `reports/bench-rm/${name}`;
    const before = await timed(state, `DDV_REPORTS_DIR=${dir}/before npx vitest run >/dev/null 2>&1`);
    const fix = await timed(state, `npx tsx remediate --from-report ${dir}/before --yes </dev/null`);
    const after = await timed(state, `DDV_REPORTS_DIR=${dir}/after npx vitest run >/dev/null 2>&1`);
    if (fix.rc !== 0 || after.rc !== 0) process.stderr.write(`${name}: remediate exited ${fix.rc}, validator after exited ${after.rc}\n${fix.out}\n`);
    const s = (ms: number) => (ms / 1000).toFixed(1);
    rows.push(
      `| ${name} | ${before.rc === 0 ? "green?" : "red"} ${s(before.ms)} | ${fix.rc} in ${s(fix.ms)} | ${after.rc === 0 ? "green" : "RED"} ${s(after.ms)} | ${s(fix.ms + after.ms)} |`,
    );
  } finally {
    await teardown(state.name);
  }
}
process.stdout.write(
  `| scenario | validate (s) | remediate: exit in s | validate again (s) | broken → proven green (s) |\n|---|---|---|---|---|\n${rows.join("\n")}\n`,
);
