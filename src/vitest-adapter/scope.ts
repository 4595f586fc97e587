import { inject } from "vitest";
import type { Check } from "../checks/define.ts";
import { catalogue } from "../checks/index.ts";
import type { RunSelection } from "./run-selection.ts";

declare module "vitest" {
  interface ProvidedContext {
    ddvRun: RunSelection;
  }
}

// The checks a suite's spec file registers: its own checks, or for "smoke" the gate's.
export function checksOf(suite: string): Check[] {
  return catalogue.filter((c) => (suite === "smoke" ? c.smoke : c.suite === suite));
}

// A check's test name, as vitest shows and filters it (-t matches the full name of a top-level test: this name).
export function testName(check: Pick<Check, "id" | "title">, target?: string): string {
  return target ? `${check.id} [${target}] ${check.title}` : `${check.id} ${check.title}`;
}

// IDs of every check this vitest run reports for `target`, across all its spec files (the evaluator's scope):
// the suites of the files vitest loads, filtered by -t exactly as vitest filters test names.
export function runScope(target?: string): Set<string> {
  const run = inject("ddvRun") as RunSelection | undefined;
  if (!run) return new Set(catalogue.map((c) => c.id)); // run without our config: judge as a full run
  let pattern: RegExp | undefined;
  try {
    pattern = run.namePattern ? new RegExp(run.namePattern) : undefined;
  } catch {
    pattern = /$^/; // vitest itself refuses such a pattern: nothing is in scope
  }
  const ids = run.suites.flatMap((s) =>
    checksOf(s)
      .filter((c) => !pattern || pattern.test(testName(c, target)))
      .map((c) => c.id),
  );
  return new Set(ids);
}

// Whether this run narrows its checks by name (-t): then a check whose root was left out and is red does not pass.
export function runFiltersNames(): boolean {
  const run = inject("ddvRun") as RunSelection | undefined;
  return !!run?.namePattern;
}
