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

// IDs of every check this vitest run reports, across all its spec files (the evaluator's scope).
export function runScope(): Set<string> {
  const run = inject("ddvRun") as RunSelection | undefined;
  if (!run) return new Set(catalogue.map((c) => c.id)); // run without our config: judge as a full run
  let pattern: RegExp | undefined;
  try {
    pattern = run.namePattern ? new RegExp(run.namePattern) : undefined;
  } catch {
    pattern = undefined;
  }
  const ids = run.suites.flatMap((s) => checksOf(s).filter((c) => !pattern || pattern.test(`${s} ${c.id} ${c.title}`)).map((c) => c.id));
  return new Set(ids);
}
