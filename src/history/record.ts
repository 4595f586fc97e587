import { diffFingerprints } from "./diff.ts";
import { rankChanges, reportOrder } from "./rank.ts";
import type { Entry, Fingerprint } from "./schema.ts";
import { lastGreen, saveEntry } from "./store.ts";

export type RunOutcome = { id: string; startedAt: string; verdict: Entry["verdict"]; failing: string[] };

// This run's entry: what changed since the last green run before it (ranked by its failing checks), stored in the
// history with rotation. Returns the entry (its changes are what reports show).
export function recordRun(state: string, run: RunOutcome, fp: Fingerprint | undefined, keep: number, note?: string): Entry {
  const base = lastGreen(state, run.id);
  const failing = reportOrder(run.failing);
  const changes = base?.fingerprint && fp ? rankChanges(diffFingerprints(base.fingerprint, fp), failing) : [];
  const entry: Entry = {
    id: run.id,
    startedAt: run.startedAt,
    verdict: run.verdict,
    failing,
    since: base ? { id: base.id, startedAt: base.startedAt } : null,
    changes,
    fingerprint: fp ?? null,
    ...(note ? { note } : {}),
  };
  saveEntry(state, entry, keep);
  return entry;
}
