import type { FileStat } from "../transport/types.ts";
import type { ProbeContext } from "./context.ts";
import { serviceUnit } from "./systemd.ts";

export type Account = { uid: number; gids: number[]; name: string };
export type UserDb = { users: Map<string, { uid: number; gid: number }>; groups: Map<string, { gid: number; members: string[] }>; uidName: Map<number, string>; gidName: Map<number, string> };

// /etc/passwd and /etc/group, read once, for owner names and group membership.
export function userDb(ctx: ProbeContext): Promise<UserDb> {
  return ctx.once("files:userdb", async () => {
    const [passwd, group] = await Promise.all([ctx.transport.readFile("/etc/passwd"), ctx.transport.readFile("/etc/group")]);
    const db: UserDb = { users: new Map(), groups: new Map(), uidName: new Map(), gidName: new Map() };
    for (const l of passwd.split("\n")) {
      const [name, , uid, gid] = l.split(":");
      if (name && uid) {
        db.users.set(name, { uid: Number(uid), gid: Number(gid) });
        db.uidName.set(Number(uid), name);
      }
    }
    for (const l of group.split("\n")) {
      const [name, , gid, members] = l.split(":");
      if (name && gid) {
        db.groups.set(name, { gid: Number(gid), members: (members ?? "").split(",").filter(Boolean) });
        db.gidName.set(Number(gid), name);
      }
    }
    return db;
  });
}

// The identity a process of the unit runs with: User=, its primary group, Group= and supplementary groups.
export function accountFor(db: UserDb, user: string, group: string): Account | undefined {
  const u = db.users.get(user || "root");
  if (!u) return undefined;
  const gids = new Set([u.gid]);
  if (group) {
    const g = db.groups.get(group);
    if (g) gids.add(g.gid);
  }
  for (const [, g] of db.groups) if (g.members.includes(user)) gids.add(g.gid);
  return { uid: u.uid, gids: [...gids], name: user || "root" };
}

// Whether `who` may r/w/x this inode by mode bits (root may do anything but execute a file with no x bit).
export function allowed(st: FileStat, who: Account, want: "r" | "w" | "x"): boolean {
  const bit = { r: 4, w: 2, x: 1 }[want];
  if (who.uid === 0) return want !== "x" || st.isDirectory || (st.mode & 0o111) !== 0;
  if (st.uid === who.uid) return ((st.mode >> 6) & bit) !== 0;
  if (who.gids.includes(st.gid)) return ((st.mode >> 3) & bit) !== 0;
  return (st.mode & bit) !== 0;
}

// Checks that `who` can reach `path` (x on every ancestor) and has `want` on it; returns the first obstacle.
export async function access(ctx: ProbeContext, path: string, who: Account, want: "r" | "w" | "x"): Promise<{ ok: true; stat: FileStat } | { ok: false; reason: string }> {
  const parts = path.split("/").filter(Boolean);
  const ancestors = parts.slice(0, -1).map((_, i) => `/${parts.slice(0, i + 1).join("/")}`);
  const stats = await Promise.all([...ancestors, path].map((p) => ctx.transport.stat(p)));
  const db = await userDb(ctx);
  for (let i = 0; i < ancestors.length; i++) {
    const st = stats[i];
    if (!st) return { ok: false, reason: `${ancestors[i]} does not exist` };
    if (!allowed(st, who, "x")) return { ok: false, reason: `${who.name} cannot enter ${ancestors[i]} (${describe(st, db)})` };
  }
  const st = stats[stats.length - 1];
  if (!st) return { ok: false, reason: `${path} does not exist` };
  const verb = { r: "read", w: "write", x: st.isDirectory ? "enter" : "execute" }[want];
  if (!allowed(st, who, want)) return { ok: false, reason: `${who.name} cannot ${verb} ${path} (${describe(st, db)})` };
  return { ok: true, stat: st };
}

// "owner:group 0640" for messages.
export function describe(st: FileStat, db: UserDb): string {
  return `${db.uidName.get(st.uid) ?? st.uid}:${db.gidName.get(st.gid) ?? st.gid} ${st.mode.toString(8).padStart(4, "0")}`;
}

// The identity the service's processes run with, from the unit's User= and Group=.
export async function serviceAccount(ctx: ProbeContext): Promise<Account> {
  const u = await serviceUnit(ctx);
  const who = accountFor(await userDb(ctx), u.user, u.group);
  if (!who) throw new Error(`unit User=${u.user} does not exist in /etc/passwd`);
  return who;
}
