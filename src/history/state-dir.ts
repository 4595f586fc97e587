import { createHash, randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";

// Where the run history lives: $DDV_STATE_DIR, else beside remediation's state (/var/lib/ddv/remediation).
export function historyDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DDV_STATE_DIR ?? "/var/lib/ddv/history";
}

// Whether this run keeps history (DDV_HISTORY=off turns it off: the bench's comparison, throwaway runs).
export function historyEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return !/^(off|0|no|false)$/i.test(env.DDV_HISTORY ?? "");
}

// How many runs to keep (DDV_HISTORY_KEEP, default 50); the last green run is kept whatever its age.
export function historyKeep(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.DDV_HISTORY_KEEP ?? 50);
  return Number.isInteger(n) && n >= 1 ? n : 50;
}

// A root-only directory (0700, also when it existed with a wider mode).
export function privateDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  return dir;
}

// Writes a root-only file (0600) whole or not at all (temporary file, then rename).
export function writePrivate(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}

// The state directory's salt (random, created once, 0600): hashes of values are comparable across its runs only.
export function stateSalt(dir: string): string {
  const file = path.join(privateDir(dir), "salt");
  try {
    writeFileSync(file, randomBytes(32).toString("hex"), { mode: 0o600, flag: "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  return readFileSync(file, "utf8").trim();
}

// A salted digest of `value` under `key` (16 hex digits: enough to tell values apart, useless without the salt).
export function saltedHash(salt: string, key: string, value: string): string {
  return createHash("sha256").update(`${salt}\0${key}\0${value}`).digest("hex").slice(0, 16);
}
