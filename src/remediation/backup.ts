import { randomBytes } from "node:crypto";
import type { Transport } from "../transport/types.ts";

// Where remediation keeps backups and its audit log on the host.
export const STATE_DIR = "/var/lib/ddv/remediation";

// One backed-up path: enough to put it back byte-identical with its owner and mode.
export type ManifestEntry = { path: string; existed: boolean; mode?: number; uid?: number; gid?: number; sha256?: string; copy?: string; fix: string };

// The run folder of one remediation: file copies plus manifest.json (path, mode, owner, checksum) and undo SQL.
export class BackupFolder {
  readonly entries: ManifestEntry[] = [];
  readonly sqlUndo: Array<{ fix: string; undo: string }> = [];
  // What each fix declared it may touch (path prefixes, units): the proof that nothing else was changed.
  readonly declared: Record<string, { files: string[]; units: string[] }> = {};
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

  // Records `path` as it is now (the oldest state is the one to restore). `content: false` (chmod, chown, mkdir)
  // records owner and mode only: restoring them must not roll back lines a log file gained meanwhile.
  async save(path: string, fix: string, opts: { content: boolean } = { content: true }): Promise<ManifestEntry> {
    let entry = this.entries.find((e) => e.path === path);
    if (!entry) {
      const st = await this.t.stat(path);
      entry = { path, existed: !!st, fix, ...(st ? { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid } : {}) };
      this.entries.push(entry);
    }
    // Content is copied the first time a fix is about to write it (chmod/chown before left it as it was).
    if (opts.content && entry.existed && !entry.copy && (await this.t.stat(path))?.isFile) {
      const copy = `${this.dir}/files/${++this.n}`;
      await must(this.t, ["cp", "-a", "--", path, copy]);
      entry.copy = copy;
      entry.sha256 = await sha256(this.t, path);
    }
    await this.writeManifest();
    return entry;
  }

  // Records what a fix declared before it acts.
  async declare(fix: string, touches: { files: string[]; units: string[] }) {
    this.declared[fix] = touches;
    await this.writeManifest();
  }

  // Records how to undo a database change (kept even after it is undone: the audit trail).
  async saveSql(fix: string, undo: string) {
    this.sqlUndo.push({ fix, undo });
    await this.writeManifest();
  }

  // Puts a path back as recorded: content byte-identical (cp -a), then mode and owner; removes what did not exist.
  async restore(e: ManifestEntry) {
    if (!e.existed) {
      const st = await this.t.stat(e.path);
      if (st?.isDirectory) await this.t.run(["rmdir", "--", e.path]); // only when empty: never deletes data
      else if (st) await must(this.t, ["rm", "-f", "--", e.path]);
      return;
    }
    if (e.copy) await must(this.t, ["cp", "-a", "--", e.copy, e.path]);
    await must(this.t, ["chown", `${e.uid}:${e.gid}`, "--", e.path]);
    await must(this.t, ["chmod", (e.mode as number).toString(8), "--", e.path]);
  }

  private async writeManifest() {
    const body = JSON.stringify({ declared: this.declared, files: this.entries, sqlUndo: this.sqlUndo }, null, 2);
    await must(this.t, ["dd", `of=${this.dir}/manifest.json`, "status=none"], body);
  }
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
