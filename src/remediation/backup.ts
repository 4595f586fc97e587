import { createHash, randomBytes } from "node:crypto";
import { inspectForChange, pinned, RefusedError, type Expect, type Facts, type Id, type Kind, type Read } from "./pinned.ts";
import type { Transport } from "../transport/types.ts";

// Where remediation keeps backups and its audit log on the host.
export const STATE_DIR = "/var/lib/ddv/remediation";

// One backed-up path: enough to put it back byte-identical with its owner, mode and extended attributes (ACLs).
// dev/ino: the object recorded, seen without following links (a link is refused, never backed up as a link);
// restoring owner and mode acts on that very object. `created`: what a step created there (removed on undo);
// `staged`: the temp name it was made under first (removed on undo too: a kill may land before it was placed).
export type ManifestEntry = {
  path: string;
  existed: boolean;
  kind?: Kind;
  mode?: number;
  uid?: number;
  gid?: number;
  dev?: number;
  ino?: number;
  sha256?: string;
  copy?: string;
  xattrs?: Record<string, string>;
  created?: Expect;
  staged?: string;
  fix: string;
};

// A unit a step started or enabled, and whether it was active/enabled before (what its undo puts back).
export type UnitChange = { fix: string; unit: string; verb: "start" | "enable"; was: string };

// Undoes one recorded unit change: a unit started that was not active is stopped, one enabled that was not is
// disabled. Idempotent: it sets the recorded state whatever is there now.
export async function undoUnit(t: Transport, u: UnitChange) {
  if (u.verb === "start" && u.was !== "active") await must(t, ["systemctl", "stop", "--", u.unit]);
  if (u.verb === "enable" && u.was !== "enabled") await must(t, ["systemctl", "disable", "--", u.unit]);
}

// The run folder of one remediation: file copies plus manifest.json (path, mode, owner, checksum) and undo SQL.
export class BackupFolder {
  readonly entries: ManifestEntry[] = [];
  readonly sqlUndo: Array<{ fix: string; undo: string; database?: string }> = [];
  // Units a step started or enabled, with the state before: undone (stopped, disabled) after files and SQL.
  readonly units: UnitChange[] = [];
  // What each fix declared it may touch (path prefixes, units): the proof that nothing else was changed.
  readonly declared: Record<string, { files: string[]; units: string[] }> = {};
  // What `remediate rollback` needs besides the entries: the app's unit (restarted on restored files) and where SQL
  // undo goes; `rolledBack`: when a rollback last ran.
  readonly meta: { service?: string; psql?: { socketDir: string; port: number }; rolledBack?: string } = {};
  private n = 0;
  private constructor(
    readonly dir: string,
    private readonly t: Transport,
  ) {}

  // Creates /var/lib/ddv/remediation/<UTC stamp>-<random>, private to root (copies of env files hold secrets).
  static async create(t: Transport): Promise<BackupFolder> {
    const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "");
    const dir = `${STATE_DIR}/${stamp}-${randomBytes(3).toString("hex")}`;
    await must(t, ["install", "-d", "-m", "700", STATE_DIR, dir, `${dir}/files`]);
    return new BackupFolder(dir, t);
  }

  // A run folder made elsewhere (tests, a rollback of an interrupted run): `dir` holds files/ and manifest.json.
  static at(t: Transport, dir: string): BackupFolder {
    return new BackupFolder(dir, t);
  }

  // Records `path` as it is now (the oldest state is the one to restore), refusing a link or, when `expect` (what
  // the plan saw) is given, an object that changed since. `content: false` (chmod, chown, mkdir) records owner and
  // mode only: restoring them must not roll back lines a log file gained meanwhile.
  async save(path: string, fix: string, opts: { content?: boolean; expect?: Expect } = {}): Promise<ManifestEntry> {
    let entry = this.entries.find((e) => e.path === path);
    if (!entry) {
      const f = await inspectForChange(this.t, path);
      if (f && opts.expect) assertSame(path, f, opts.expect);
      entry = { path, existed: !!f, fix, ...(f ? { kind: f.kind, mode: f.mode, uid: f.uid, gid: f.gid, dev: f.dev, ino: f.ino } : {}) };
      this.entries.push(entry);
    }
    // Content is copied the first time a fix is about to write it (chmod/chown before left it as it was).
    if ((opts.content ?? true) && entry.existed && !entry.copy && entry.kind === "file") {
      const r = await pinned<Read>(this.t, { op: "read", path, expect: { dev: entry.dev as number, ino: entry.ino as number } });
      const copy = `${this.dir}/files/${++this.n}`;
      await pinned(this.t, { op: "write", path: copy, data: r.data, mode: 0o600, owner: 0, group: 0, absent: true });
      entry.copy = copy;
      entry.sha256 = createHash("sha256").update(Buffer.from(r.data, "base64")).digest("hex");
      if (Object.keys(r.xattrs).length) entry.xattrs = r.xattrs;
    }
    await this.writeManifest();
    return entry;
  }

  // Creates a new file or directory at `e.path` so that a kill at any moment leaves nothing an undo cannot remove:
  // made under a temp name in the same directory (recorded first), its identity recorded next, and only then
  // renamed into place, never over anything. An undo removes that very object and nothing else.
  async create(
    e: ManifestEntry,
    make: { op: "write"; data: string; mode: number; owner: Id; group: Id } | { op: "mkdir"; mode: number; owner: Id; group: Id },
  ) {
    const slash = e.path.lastIndexOf("/");
    const staged = `.${e.path.slice(slash + 1).slice(0, 100)}.ddv-${randomBytes(4).toString("hex")}`;
    e.staged = `${e.path.slice(0, slash)}/${staged}`;
    await this.writeManifest();
    const made = await pinned<{ after: Facts }>(this.t, make.op === "write" ? { ...make, path: e.staged, absent: true } : { ...make, path: e.staged });
    e.created = { dev: made.after.dev, ino: made.after.ino };
    await this.writeManifest();
    await pinned(this.t, { op: "place", path: e.path, staged, expect: e.created });
  }

  // Records what a fix declared before it acts.
  async declare(fix: string, touches: { files: string[]; units: string[] }) {
    this.declared[fix] = touches;
    await this.writeManifest();
  }

  // Records how to undo a database change before it is made (kept even after it is undone: the audit trail).
  async saveSql(fix: string, undo: string, database?: string) {
    this.sqlUndo.push({ fix, undo, database });
    await this.writeManifest();
  }

  // Records a unit's state before a step starts or enables it (a rollback after a kill stops or disables it again).
  async saveUnit(change: UnitChange) {
    this.units.push(change);
    await this.writeManifest();
  }

  // Puts a path back as recorded: the content's bytes with owner, mode and xattrs as a new file renamed into place;
  // owner and mode only on the very object recorded; removes only what a step created (a directory only if empty).
  async restore(e: ManifestEntry) {
    await restoreEntry(this.t, e);
  }

  // Writes manifest.json now (fsynced, renamed into place): each change is recorded before it is made.
  async writeManifest() {
    const body = JSON.stringify({ ...this.meta, declared: this.declared, files: this.entries, sqlUndo: this.sqlUndo, units: this.units }, null, 2);
    await pinned(this.t, { op: "write", path: `${this.dir}/manifest.json`, data: Buffer.from(body).toString("base64"), mode: 0o600, owner: 0, group: 0 });
  }
}

// Puts one manifest entry back (see BackupFolder.restore); also what `remediate rollback` runs from a manifest.
export async function restoreEntry(t: Transport, e: ManifestEntry) {
  if (!e.existed) {
    // The staged name is ours (random, made by the step): without a recorded identity (a kill right after it was
    // made) whatever is there is removed, a directory only if empty; removing a name follows nothing.
    // Found at its staged name, it was never placed: whatever is at the path now is not the step's.
    if (e.staged && (await pinned<{ removed: boolean }>(t, { op: "remove", path: e.staged, ...(e.created ? { expect: e.created } : {}) })).removed) return;
    if (e.created) await pinned(t, { op: "remove", path: e.path, expect: e.created });
    return;
  }
  if (e.copy) {
    const r = await pinned<Read>(t, { op: "read", path: e.copy });
    await pinned(t, { op: "write", path: e.path, data: r.data, mode: e.mode as number, owner: e.uid as number, group: e.gid as number, xattrs: e.xattrs });
    return;
  }
  await pinned(t, {
    op: "change",
    path: e.path,
    owner: e.uid as number,
    group: e.gid as number,
    mode: e.mode as number,
    expect: { dev: e.dev as number, ino: e.ino as number },
  });
}

// Refuses an object that is not what the plan looked at (another inode, or owner/mode changed since).
export function assertSame(path: string, f: Facts, want: Expect) {
  if (f.dev !== want.dev || f.ino !== want.ino) throw new RefusedError(`refused: ${path} is not the file the plan looked at (it was replaced since)`);
  for (const k of ["mode", "uid", "gid"] as const)
    if (want[k] !== undefined && want[k] !== f[k])
      throw new RefusedError(
        `refused: ${path} changed since the plan (${k} ${k === "mode" ? f[k].toString(8) : f[k]}, ` +
          `planned from ${k === "mode" ? (want[k] as number).toString(8) : want[k]})`,
      );
}

// SHA-256 of a file on the host.
export async function sha256(t: Transport, path: string): Promise<string> {
  const r = await must(t, ["sha256sum", "--", path]);
  return r.stdout.split(" ")[0] as string;
}

// Runs a command that must succeed; its stderr is the error message otherwise.
export async function must(t: Transport, argv: string[], input?: string) {
  const r = await t.run(argv, input === undefined ? {} : { input });
  if (r.exitCode !== 0) throw new Error(`${argv.slice(0, 2).join(" ")} exited ${r.exitCode}: ${(r.stderr || r.stdout).trim().split("\n").slice(-1)[0] ?? ""}`);
  return r;
}
