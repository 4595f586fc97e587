import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "../../fixtures/host/paths.ts";

// Where the e2e minutes go: each host action (boot with its scenario, a validator run, remediation, other commands
// inside, teardown) appends its phase and duration here; the run's end prints the table (see global-setup.ts).
const FILE = path.join(REPO_ROOT, "reports/e2e/phases.jsonl");

export type Phase = "boot" | "validator run" | "remediation" | "exec inside" | "teardown" | "fleet run" | "other";

// The phase of a `fixtures/host` command line.
export function phaseOf(args: string[]): Phase {
  const [cmd] = args;
  if (cmd === "up") return "boot";
  if (cmd === "down") return "teardown";
  if (cmd === "run") return "validator run";
  if (cmd === "exec") return args.some((a) => /\bremediate\b/.test(a)) ? "remediation" : "exec inside";
  return "other";
}

// Records one host action (one process start of npx tsx).
export function recordPhase(phase: Phase, ms: number) {
  appendFileSync(FILE, `${JSON.stringify({ phase, ms: Math.round(ms) })}\n`);
}

export function resetPhases() {
  mkdirSync(path.dirname(FILE), { recursive: true });
  rmSync(FILE, { force: true });
}

// The table: per phase, count (process starts), total and mean seconds; summed over concurrent actions.
export function phaseTable(): string {
  if (!existsSync(FILE)) return "";
  const rows = new Map<string, { n: number; ms: number }>();
  for (const l of readFileSync(FILE, "utf8").split("\n").filter(Boolean)) {
    const { phase, ms } = JSON.parse(l) as { phase: string; ms: number };
    const r = rows.get(phase) ?? { n: 0, ms: 0 };
    rows.set(phase, { n: r.n + 1, ms: r.ms + ms });
  }
  const lines = [...rows.entries()]
    .sort((a, b) => b[1].ms - a[1].ms)
    .map(([p, r]) => `  ${p.padEnd(14)} ${String(r.n).padStart(5)} ${(r.ms / 1000).toFixed(0).padStart(7)} s ${(r.ms / r.n / 1000).toFixed(1).padStart(7)} s`);
  const total = [...rows.values()].reduce((a, r) => ({ n: a.n + r.n, ms: a.ms + r.ms }), { n: 0, ms: 0 });
  return [
    `e2e phases (host actions; concurrent ones add up):`,
    `  ${"phase".padEnd(14)} ${"count".padStart(5)} ${"total".padStart(9)} ${"mean".padStart(9)}`,
    ...lines,
    `  ${"all".padEnd(14)} ${String(total.n).padStart(5)} ${(total.ms / 1000).toFixed(0).padStart(7)} s`,
  ].join("\n");
}
