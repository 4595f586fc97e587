import { hostname } from "node:os";
import type { Transport } from "../transport/types.ts";
import { EXIT, RemediateError } from "./errors.ts";
import { STATE_DIR, must } from "./backup.ts";

// The host's remediation lock: an flock on this file, held by a process of ours on the host. The kernel frees it
// when that process ends (we exit, are killed, or lose the connection), so it is never left stuck, and it is
// always the target host's lock, even when a fleet controller runs remediation over ssh.
export const LOCK_FILE = `${STATE_DIR}/remediation.lock`;

type Owner = { pid: number; user: string; report: string; host: string; since: string };

// Takes the lock or refuses (exit 73) naming who holds it, from where and for how long; resolves its release.
export async function takeLock(t: Transport, who: { pid: number; user: string; report: string }): Promise<() => Promise<void>> {
  if (!t.lock) throw new RemediateError(`the ${t.name} transport cannot hold a lock on the host`, EXIT.internal);
  await must(t, ["install", "-d", "-m", "700", STATE_DIR]);
  const owner: Owner = { ...who, host: hostname(), since: new Date().toISOString() };
  const l = await t.lock(LOCK_FILE, JSON.stringify(owner));
  if (l.held) return l.release;
  throw new RemediateError(
    `another remediation is running on this host: ${describeOwner(l.busy)}; wait for it to end (the lock frees itself when its process ends)`,
    EXIT.locked,
  );
}

// "root, pid 4242 on ctl1, for 3 min (report reports/vitest-report.json)" from what the holder wrote.
export function describeOwner(text: string, now = Date.now()): string {
  try {
    const o = JSON.parse(text) as Owner;
    const age = Math.max(0, Math.round((now - Date.parse(o.since)) / 1000));
    const took = age < 120 ? `${age} s` : `${Math.round(age / 60)} min`;
    return `${o.user}, pid ${o.pid} on ${o.host}, for ${took} (${o.report})`;
  } catch {
    return "a process that is just starting";
  }
}
