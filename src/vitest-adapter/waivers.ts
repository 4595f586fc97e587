import type { Waiver } from "../config/schema.ts";

// A critical check may be waived only on a named host and for at most this many days: the gate must not stay green
// on a dead site for long, nor on every host of a fleet.
export const CRITICAL_WAIVER_DAYS = 7;

// What is wrong with each waiver of a critical check (`critical`: their IDs), one line each; empty when none.
export function criticalWaiverProblems(waivers: Waiver[], critical: Set<string>, now: Date): string[] {
  const limit = new Date(now.getTime() + CRITICAL_WAIVER_DAYS * 86_400_000).toLocaleDateString("sv-SE");
  return waivers
    .filter((w) => critical.has(w.id))
    .flatMap((w) => {
      const why = [...(w.host ? [] : ["names no host"]), ...(w.expires > limit ? [`expires ${w.expires}, after ${limit}`] : [])];
      return why.length ? [`${w.id} ${why.join(" and ")}`] : [];
    });
}
