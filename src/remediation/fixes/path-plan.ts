import type { UserDb } from "../../probes/files.ts";
import type { Transport } from "../../transport/types.ts";
import type { Action } from "../fix.ts";
import { ancestorsOf, changesBetween, grant, octal, permits, within, type Fallback, type Inode, type Want, type Who } from "./modes.ts";

type Entry = { from?: Inode; to: Inode; create?: "dir" | "file"; why: string };

// The owner/mode changes one fix plans, path by path, on top of what it already planned (so two IDs that need
// the same directory share one change). Reads the host only through stat; turns into chown/chmod/mkdir/write.
export class PathPlan {
  private readonly paths = new Map<string, Entry>();
  constructor(
    private readonly t: Transport,
    // Path prefixes the fix declared: an obstacle outside them is reported, never changed.
    readonly roots: string[],
  ) {}

  // The inode as planned so far: the planned state, else the host's (undefined: it does not exist).
  async get(path: string): Promise<Inode | undefined> {
    const p = this.paths.get(path);
    if (p) return p.to;
    const st = await this.t.stat(path);
    return st && { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, isDirectory: st.isDirectory };
  }

  // Plans `path` to become `to` (why: which ID needs it, for the notes).
  async set(path: string, to: Inode, why: string) {
    const p = this.paths.get(path);
    if (p) this.paths.set(path, { ...p, to, why: p.why.includes(why) ? p.why : `${p.why}, ${why}` });
    else this.paths.set(path, { from: await this.get(path), to, why });
  }

  // Plans a new directory or empty file.
  create(path: string, to: Inode, why: string) {
    this.paths.set(path, { to, create: to.isDirectory ? "dir" : "file", why });
  }

  // Makes `path` reachable (x on every ancestor) and `wants` on it for `who`; resolves why it cannot, if so.
  async clear(path: string, who: Who & { name: string }, wants: Want[], fallback: Fallback, why: string): Promise<string | undefined> {
    for (const a of ancestorsOf(path)) {
      const n = await this.get(a);
      if (!n) return `${a} does not exist`;
      if (permits(n, who, "x")) continue;
      if (!within(a, this.roots))
        return `${who.name} cannot enter ${a} (${octal(n.mode)}), which is outside what this fix may change (${this.roots.join(", ")}): fix it by hand`;
      await this.set(a, grant(n, who, "x", fallback), why);
    }
    let n = await this.get(path);
    if (!n) return `${path} does not exist`;
    for (const w of wants) {
      if (permits(n, who, w)) continue;
      if (!within(path, this.roots))
        return `${who.name} cannot ${w} ${path} (${octal(n.mode)}), which is outside what this fix may change (${this.roots.join(", ")})`;
      n = grant(n, who, w, fallback);
      await this.set(path, n, why);
    }
    return undefined;
  }

  // The paths whose state changes, in the order planned (ancestors before what lies under them).
  changed(): string[] {
    return [...this.paths.entries()]
      .filter(([, e]) => e.create || (e.from && (changesBetween(e.from, e.to).chown || changesBetween(e.from, e.to).chmod)))
      .map(([p]) => p);
  }

  // The plan as actions (chown before chmod: chown clears set-id bits), and one note per path: before → after.
  render(db: UserDb): { actions: Action[]; notes: string[] } {
    const user = (uid: number) => db.uidName.get(uid) ?? String(uid);
    const group = (gid: number) => db.gidName.get(gid) ?? String(gid);
    const actions: Action[] = [];
    const notes: string[] = [];
    for (const p of this.changed()) {
      const e = this.paths.get(p) as Entry;
      const after = `${user(e.to.uid)}:${group(e.to.gid)} ${octal(e.to.mode)}`;
      if (e.create === "dir") actions.push({ kind: "mkdir", path: p, mode: e.to.mode, owner: user(e.to.uid), group: group(e.to.gid) });
      else if (e.create === "file") actions.push({ kind: "write", path: p, content: "", mode: e.to.mode, owner: user(e.to.uid), group: group(e.to.gid) });
      else {
        const from = e.from as Inode;
        const c = changesBetween(from, e.to);
        if (c.chown) actions.push({ kind: "chown", path: p, owner: user(e.to.uid), group: group(e.to.gid) });
        if (c.chmod) actions.push({ kind: "chmod", path: p, mode: e.to.mode });
      }
      const before = e.from ? `${user(e.from.uid)}:${group(e.from.gid)} ${octal(e.from.mode)}` : "missing";
      notes.push(`${p}: ${before} -> ${after} (${e.why})`);
    }
    return { actions, notes };
  }
}
