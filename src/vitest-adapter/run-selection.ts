import { readdirSync } from "node:fs";
import path from "node:path";

// What one vitest run covers, worked out from its command line in vitest.config.ts and handed to the
// workers with `provide`: a check may only be skipped as "blocked by X" when X is reported in the same run.
// id: the run's id (vitest.config.ts), which every check's result carries (reports/run.json names the last run).
export type RunSelection = { suites: string[]; namePattern?: string; id?: string };

// Flags whose next argument is a value, not a file filter (`-t smoke` names tests, not specs/smoke).
const VALUE_FLAGS = new Set([
  "-t",
  "--testNamePattern",
  "-c",
  "--config",
  "--project",
  "--dir",
  "-r",
  "--root",
  "--exclude",
  "--reporter",
  "--reporters",
  "--outputFile",
  "--shard",
  "--mode",
  "--pool",
  "--environment",
]);

// The spec suites a `vitest run ARGS` will load, as vitest filters files (a substring of the relative path).
export function selectRun(argv: string[], root: string): RunSelection {
  const suites = readdirSync(path.join(root, "specs"), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name);
  const filters: string[] = [];
  let namePattern: string | undefined;
  const args = argv.slice(argv.indexOf("run") + 1);
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === "-t" || a === "--testNamePattern") namePattern = args[++i];
    else if (a.startsWith("--testNamePattern=")) namePattern = a.slice(18);
    else if (VALUE_FLAGS.has(a) || /^--outputFile\.[\w-]+$/.test(a)) i++;
    else if (!a.startsWith("-")) filters.push(path.isAbsolute(a) ? path.relative(root, a) : a.replace(/^\.\//, ""));
  }
  const file = (s: string) => `specs/${s}/${s}.spec.ts`;
  // The smoke gate repeats every suite's smoke checks: only a filter that matches it alone (`smoke`, `specs/smoke`)
  // asks for it; one that matches every spec (`specs`) is a full run, without it.
  const matched = suites.filter((s) =>
    filters.some((f) => file(s).includes(f) && (s !== "smoke" || suites.every((o) => o === "smoke" || !file(o).includes(f)))),
  );
  // No file filter (or none that names a spec): every suite but the smoke gate, as vitest.config.ts includes them.
  return { suites: matched.length ? matched : suites.filter((s) => s !== "smoke"), namePattern };
}
