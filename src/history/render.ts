import type { Entry } from "./schema.ts";

// "Changed since the last green run" as text: a heading, then one line per change, the failing checks it touches
// first. The same text goes to the terminal, JUnit's system-out and the Allure report.
export function changesText(e: Entry, state: string, max = 40): string {
  if (!e.since) return `Changed since the last green run: no green run is recorded on this host yet (history in ${state}).`;
  const head = `Changed since the last green run (${e.since.id}, started ${e.since.startedAt}):`;
  if (!e.fingerprint) return `${head} not known: this run's fingerprint could not be gathered${e.note ? ` (${e.note})` : ""}.`;
  if (!e.changes.length) return `${head} nothing the fingerprint records (unit, env names, settings, migrations, versions, code, nginx, listeners, paths).`;
  const width = Math.min(24, Math.max(...e.changes.map((c) => c.checks.join(",").length)));
  const lines = e.changes.slice(0, max).map((c) => `  ${(c.checks.join(",") || "-").padEnd(width)}  ${c.text}`);
  if (e.changes.length > max) lines.push(`  ... and ${e.changes.length - max} more (npm run history -- --run ${e.id})`);
  return `${head}\n${lines.join("\n")}`;
}

// The reports folder's changes.json: this run, the run it is compared with, and each change.
export function changesJson(e: Entry, state: string): object {
  return { runId: e.id, verdict: e.verdict, failing: e.failing, since: e.since, history: state, changes: e.changes, ...(e.note ? { note: e.note } : {}) };
}
