import { type Check, nameService } from "../checks/define.ts";
import { dropCheckPrefix, type Outcome } from "../runner/evaluate.ts";

// What the failure text knows of the host: the configured service (the unit the catalogue's <service> means), and
// why this machine cannot be the deployment's host (the advice of a check that could not look here).
export type OutcomeHost = { service?: string; wrongMachine?: string };

// A field of the failure text; a value of several lines continues under its first (a line at column 0 would read
// as the next thing the run printed, not as part of this check).
function field(name: string, value: string): string {
  const label = `  ${name.padEnd(9)} `;
  return label + value.replace(/\n/g, `\n${" ".repeat(label.length)}`);
}

// The failure text every report shows: ID, expected, observed, what to do. The heading of an error already says it
// could not check, so its observed text does not say it again; on a machine that is not the deployment's host, the
// advice of a check that could not look is about that, not the catalogue's advice for a deployed host.
export function formatOutcome(check: Check, o: Outcome, host: OutcomeHost = {}): string {
  const error = o.status === "error";
  const head = error ? `${check.id} ERROR (could not check)` : `${check.id} FAIL`;
  const fix = check.fixId ? `${check.recommendation} (automated fix: ${check.fixId})` : check.recommendation;
  const advice = error && host.wrongMachine ? host.wrongMachine : nameService(fix, host.service);
  return [
    `${head}: ${check.title}`,
    field("expected:", nameService(check.expects, host.service)),
    field("observed:", error ? dropCheckPrefix(o.observed) : o.observed),
    field("do:", advice),
  ].join("\n");
}
