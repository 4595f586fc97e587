// The local transport's own costs, two versions side by side: the time to import the module (median of fresh
// processes) and the wall time of short commands run one after another (interleaved, in one process).
//   npx tsx bench/local-transport.ts [A] [B]
// A and B: "worktree" (src/transport/local.ts as it is), a git revision's local.ts, or a .ts file exporting
// createLocalTransport; by default worktree against bench/local-transport-execa.ts (run() on execa).
import { execFileSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Transport } from "../src/transport/types.ts";

const IMPORTS = 10;
const TRUE_RUNS = 200;
const PYTHON_RUNS = 50;
const dir = path.resolve(import.meta.dirname, "../src/transport");
const temps: string[] = [];

// The module's path: the worktree's file, a file given, or a revision's copy next to local.ts (so its imports resolve).
function source(ref: string): string {
  if (ref === "worktree") return path.join(dir, "local.ts");
  if (ref.endsWith(".ts")) return path.resolve(ref);
  const file = path.join(dir, `local.bench-${ref.replace(/[^\w.-]/g, "_")}.ts`);
  writeFileSync(file, execFileSync("git", ["show", `${ref}:src/transport/local.ts`]));
  temps.push(file);
  return file;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const ms = (x: number) => `${x.toFixed(2)} ms`;

// Milliseconds spent in import() of `file` in a fresh node, measured inside it (node and tsx start-up excluded).
function importMs(file: string): number {
  const code = `const t = performance.now(); await import(${JSON.stringify(file)}); console.log(performance.now() - t);`;
  return Number(execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { encoding: "utf8" }).trim());
}

async function perCommand(transports: Transport[], argv: string[], n: number): Promise<number[]> {
  const times: number[][] = transports.map(() => []);
  for (let i = 0; i < n + 10; i++) {
    for (const [k, t] of transports.entries()) {
      const started = performance.now();
      const r = await t.run(argv);
      if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} exited ${r.exitCode}`);
      if (i >= 10) times[k]?.push(performance.now() - started); // the first 10 warm up
    }
  }
  return times.map(median);
}

try {
  const refs = process.argv.length > 2 ? process.argv.slice(2) : ["worktree", "bench/local-transport-execa.ts"];
  const files = refs.map(source);
  for (const file of files) importMs(file); // fills tsx's cache, uncounted
  const imports = files.map((f) => median(Array.from({ length: IMPORTS }, () => importMs(f))));
  const transports: Transport[] = [];
  for (const f of files) transports.push((await import(f)).createLocalTransport(10_000));
  const trues = await perCommand(transports, ["true"], TRUE_RUNS);
  const pythons = await perCommand(transports, ["python3", "-c", "pass"], PYTHON_RUNS);
  for (const [k, ref] of refs.entries()) {
    console.log(
      `${ref}\n  import ${ms(imports[k] as number)} (median of ${IMPORTS} processes)\n  ` +
        `run(true) ${ms(trues[k] as number)} (median of ${TRUE_RUNS})\n  run(python3 -c pass) ${ms(pythons[k] as number)} (median of ${PYTHON_RUNS})`,
    );
  }
  for (const t of transports) t.close();
} finally {
  for (const f of temps) rmSync(f, { force: true });
}
