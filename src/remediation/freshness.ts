import { checkById } from "../checks/index.ts";
import type { HostIdentity } from "../runner/identity.ts";
import { EXIT, RemediateError } from "./errors.ts";
import type { Report } from "./report.ts";

const bad = (msg: string) => new RemediateError(msg, EXIT.badReport);

// Refuses a report that is not about this host, now, with this catalogue; `forceStale` lifts the age limit only.
export function checkReport(r: Report, here: HostIdentity, catalogue: string, maxAgeMinutes: number, forceStale: boolean, now = Date.now()) {
  if (!r.machineId) throw bad(`report ${r.file} carries no host identity (made by an older validator?): run the validator again on this host`);
  if (r.machineId !== here.machineId)
    throw bad(
      `report ${r.file} is from host ${r.hostname} (machine-id ${r.machineId.slice(0, 8)}…), ` +
        `not this one (${here.hostname}, ${here.machineId.slice(0, 8)}…)`,
    );
  if (r.catalogue !== catalogue)
    throw bad(`report ${r.file} was made with catalogue ${r.catalogue ?? "unknown"}, this validator has ${catalogue}: run the validator again`);
  for (const c of r.checks)
    try {
      checkById(c.id);
    } catch {
      throw bad(`report ${r.file} names check ${c.id}, which this catalogue does not have`);
    }
  const ageMin = (now - r.startedAt) / 60_000;
  if (ageMin > maxAgeMinutes && !forceStale)
    throw bad(`report ${r.file} is ${Math.round(ageMin)} minutes old (limit ${maxAgeMinutes}): run the validator again, or pass --force-stale`);
  if (ageMin < -5) throw bad(`report ${r.file} is dated ${Math.round(-ageMin)} minutes in the future: check the host's clock`);
}
