import type { Check } from "../checks/define.ts";
import { SEVERITIES, type Config, type Waiver } from "../config/schema.ts";
import type { Outcome } from "../runner/evaluate.ts";

// How a check's outcome is reported: red ("fail"/"error"), or a failure that does not turn the run red
// because an unexpired waiver accepts it ("waived") or its severity is below config.failOn ("below").
export type Report =
  | { kind: "pass" | "skip" | "fail" | "error"; note?: string }
  | { kind: "waived"; waiver: Waiver; note: string }
  | { kind: "below"; note: string };

// The waiver that applies to this check on this host, if any (a host-specific one before a general one).
function waiverFor(config: Config, id: string, host: string): Waiver | undefined {
  const mine = config.waivers.filter((w) => w.id === id && (!w.host || w.host === host));
  return mine.find((w) => w.host) ?? mine[0];
}

// Applies waivers and the failOn threshold to one outcome; `today` is a YYYY-MM-DD date on the host's clock.
export function reportOutcome(check: Check, o: Outcome, config: Config, host: string, today: string): Report {
  if (o.status !== "fail") return { kind: o.status };
  const w = waiverFor(config, check.id, host);
  if (w && w.expires >= today) return { kind: "waived", waiver: w, note: `WAIVED until ${w.expires}: ${w.reason}` };
  if (w) return { kind: "fail", note: `the waiver for ${check.id} expired on ${w.expires} (${w.reason}): renew it with a new date or fix the finding` };
  if (SEVERITIES.indexOf(check.severity) > SEVERITIES.indexOf(config.failOn))
    return { kind: "below", note: `${check.severity} finding, below failOn=${config.failOn}: reported, not red` };
  return { kind: "fail" };
}
