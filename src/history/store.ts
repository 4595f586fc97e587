import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { type Entry, EntrySchema, type Fingerprint, FingerprintSchema } from "./schema.ts";
import { privateDir, writePrivate } from "./state-dir.ts";

// The history's files: runs/<run id>.json (ids sort as runs do), and pending/<run id>.json, the fingerprint the
// worker hands the reporter (both processes of one run share the state directory).
const runsDir = (state: string) => path.join(state, "runs");
const pendingFile = (state: string, id: string) => path.join(state, "pending", `${id}.json`);

// A stored file that does not parse: the history names it rather than guess.
export class HistoryError extends Error {
  override name = "HistoryError";
}

function parse<T>(file: string, schema: { parse(x: unknown): T }): T {
  try {
    return schema.parse(JSON.parse(readFileSync(file, "utf8")));
  } catch (err) {
    throw new HistoryError(`${file} is not a run history file this validator reads: ${(err as Error).message.split("\n")[0]}`);
  }
}

// Hands this run's fingerprint over to the reporter (worker side).
export function writePending(state: string, fp: Fingerprint): void {
  privateDir(path.join(privateDir(state), "pending"));
  writePrivate(pendingFile(state, fp.runId), `${JSON.stringify(fp)}\n`);
}

// Takes this run's fingerprint (reporter side): undefined when the worker kept none (history off, a fleet run...).
export function takePending(state: string, id: string): Fingerprint | undefined {
  const file = pendingFile(state, id);
  if (!existsSync(file)) return undefined;
  try {
    return parse(file, FingerprintSchema);
  } finally {
    rmSync(file, { force: true });
  }
}

// The ids of the runs kept, oldest first.
export function runIds(state: string): string[] {
  const dir = runsDir(state);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => f.slice(0, -5))
    .sort();
}

// One kept run.
export function readEntry(state: string, id: string): Entry {
  return parse(path.join(runsDir(state), `${id}.json`), EntrySchema);
}

// The last green run before `id` (or before every run), newest first; unreadable files are skipped here.
export function lastGreen(state: string, before?: string): Entry | undefined {
  for (const id of runIds(state).reverse()) {
    if (before && id >= before) continue;
    try {
      const e = readEntry(state, id);
      if (e.verdict === "green" && e.fingerprint) return e;
    } catch {}
  }
  return undefined;
}

// Stores a run (0600, in a 0700 directory) and keeps the last `keep` runs, plus the last green one however old.
export function saveEntry(state: string, e: Entry, keep: number): void {
  const dir = privateDir(path.join(privateDir(state), "runs"));
  writePrivate(path.join(dir, `${e.id}.json`), `${JSON.stringify(e)}\n`);
  const ids = runIds(state);
  const green = e.verdict === "green" ? e.id : lastGreen(state)?.id;
  for (const id of ids.slice(0, Math.max(0, ids.length - keep))) if (id !== green) rmSync(path.join(dir, `${id}.json`), { force: true });
}
