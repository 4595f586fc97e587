import type { FileStat } from "../transport/types.ts";
import type { ProbeContext } from "./context.ts";
import { accessInService, describeBasis, judgedProcess, mountOf, serviceMounts, serviceProcess, type ServiceProcess, type Want } from "./sandbox.ts";
import { serviceUnit } from "./systemd.ts";

export type Account = { uid: number; gids: number[]; name: string };
export type UserDb = {
  users: Map<string, { uid: number; gid: number }>;
  groups: Map<string, { gid: number; members: string[] }>;
  uidName: Map<number, string>;
  gidName: Map<number, string>;
};

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
export function allowed(st: FileStat, who: Account, want: Want): boolean {
  const bit = { r: 4, w: 2, x: 1 }[want];
  if (who.uid === 0) return want !== "x" || st.isDirectory || (st.mode & 0o111) !== 0;
  if (st.uid === who.uid) return ((st.mode >> 6) & bit) !== 0;
  if (who.gids.includes(st.gid)) return ((st.mode >> 3) & bit) !== 0;
  return (st.mode & bit) !== 0;
}

// reason = obstacle + " (" + basis + ")": what stands in the way, and how that was judged. missing: the first path
// component that does not exist, when that is the obstacle (a caller may then judge the directory that would hold it).
export type AccessResult = { ok: true; stat: FileStat } | { ok: false; reason: string; obstacle: string; basis: string; missing?: string };

const denied = (obstacle: string, basis: string, missing?: string): AccessResult => ({
  ok: false,
  reason: `${obstacle} (${basis})`,
  obstacle,
  basis,
  ...(missing ? { missing } : {}),
});

// Checks that `who` can reach `path` (x on every ancestor) and has `want` on it; returns the first obstacle.
// While the service runs, the kernel judges inside its mount namespace as its real uid/gid/groups (ACLs,
// read-only mounts and the unit's sandbox count); when it is down, mode bits of `who` model it, and say so.
export async function access(ctx: ProbeContext, path: string, who: Account, want: Want): Promise<AccessResult> {
  const v = await accessInService(ctx, path, want);
  if ("down" in v) {
    const r = await modelAccess(ctx, path, who, want);
    return r.ok ? r : denied(r.obstacle, `modelled from mode bits: ${v.down}`, r.missing);
  }
  const proc = (await serviceProcess(ctx)) as ServiceProcess;
  const [st, db] = await Promise.all([ctx.transport.stat(v.at), userDb(ctx)]);
  const basis = describeBasis(proc);
  if (v.kind === "ok") return { ok: true, stat: st ?? { mode: 0, uid: -1, gid: -1, isDirectory: v.type === "d", isFile: v.type === "f", size: 0 } };
  if (v.kind === "noent") return denied(`${v.at} does not exist`, basis, v.at);
  const name = db.uidName.get(proc.uid) ?? `uid ${proc.uid}`;
  const real: Account = { uid: proc.uid, gids: [...new Set([proc.gid, ...proc.groups])], name };
  const bits = st ? ` (${describe(st, db)})` : "";
  const verb = v.kind === "nox" ? "enter" : { r: "read", w: "write", x: v.type === "d" ? "enter" : "execute" }[want];
  const mode = v.kind === "nox" ? "x" : want;
  const mount = mountOf(await serviceMounts(ctx, proc.pid), v.at);
  let why = "";
  if (mount?.point === v.at && mount.root.includes("/inaccessible/"))
    why = ": made inaccessible inside the service's sandbox (ProtectHome=, InaccessiblePaths= or TemporaryFileSystem=)";
  else if (mode === "w" && mount?.options.has("ro"))
    why = `: read-only inside the service's sandbox (the mount at ${mount.point} is ro there; list it in ReadWritePaths=)`;
  else if (v.kind === "deny" && want === "x" && v.type === "f" && mount?.options.has("noexec"))
    why = `: the mount at ${mount.point} is noexec inside the service's sandbox`;
  else if (st && allowed(st, real, mode)) why = ": the mode bits allow it, so an ACL or a security module denies it";
  return denied(`${name} cannot ${verb} ${v.at}${bits}${why}`, basis);
}

// The mode-bit model of access(): `who` from the unit's User=/Group= and /etc/passwd, no ACLs, no mounts.
export async function modelAccess(
  ctx: ProbeContext,
  path: string,
  who: Account,
  want: Want,
): Promise<{ ok: true; stat: FileStat } | { ok: false; obstacle: string; missing?: string }> {
  const parts = path.split("/").filter(Boolean);
  const ancestors = parts.slice(0, -1).map((_, i) => `/${parts.slice(0, i + 1).join("/")}`);
  const stats = await Promise.all([...ancestors, path].map((p) => ctx.transport.stat(p)));
  const db = await userDb(ctx);
  for (let i = 0; i < ancestors.length; i++) {
    const st = stats[i];
    if (!st) return { ok: false, obstacle: `${ancestors[i]} does not exist`, missing: ancestors[i] };
    if (!allowed(st, who, "x")) return { ok: false, obstacle: `${who.name} cannot enter ${ancestors[i]} (${describe(st, db)})` };
  }
  const st = stats[stats.length - 1];
  if (!st) return { ok: false, obstacle: `${path} does not exist`, missing: path };
  const verb = { r: "read", w: "write", x: st.isDirectory ? "enter" : "execute" }[want];
  if (!allowed(st, who, want)) return { ok: false, obstacle: `${who.name} cannot ${verb} ${path} (${describe(st, db)})` };
  return { ok: true, stat: st };
}

// How access() judges on this run, for pass texts: inside the running service, or modelled from mode bits.
export async function accessBasis(ctx: ProbeContext): Promise<string> {
  const p = await judgedProcess(ctx);
  return "down" in p ? `modelled from mode bits: ${p.down}` : describeBasis(p);
}

// The uid and groups the service has: the running process's own, else the unit's account from /etc/passwd.
export async function serviceIds(ctx: ProbeContext): Promise<{ uid: number; gids: number[]; basis: string }> {
  const p = await serviceProcess(ctx);
  if (!("down" in p))
    return {
      uid: p.uid,
      gids: [...new Set([p.gid, ...p.groups])],
      basis: `the running process's credentials (pid ${p.pid}: uid ${p.uid}, gid ${p.gid}, groups ${p.groups.join(",") || "none"})`,
    };
  const who = await serviceAccount(ctx);
  return { uid: who.uid, gids: who.gids, basis: `the unit's User=/Group= from /etc/passwd: ${p.down}` };
}

// "owner:group 0640" for messages.
export function describe(st: FileStat, db: UserDb): string {
  return `${db.uidName.get(st.uid) ?? st.uid}:${db.gidName.get(st.gid) ?? st.gid} ${st.mode.toString(8).padStart(4, "0")}`;
}

// The identity the service's processes run with, from the unit's User= and Group=; a user only NSS knows
// (not in /etc/passwd) is taken from the running process.
export async function serviceAccount(ctx: ProbeContext): Promise<Account> {
  const u = await serviceUnit(ctx);
  const who = accountFor(await userDb(ctx), u.user, u.group);
  if (who) return who;
  const p = await serviceProcess(ctx);
  if (!("down" in p)) return { uid: p.uid, gids: [...new Set([p.gid, ...p.groups])], name: u.user };
  throw new Error(`unit User=${u.user} does not exist in /etc/passwd and the service is not running to show its uid`);
}

// Several failed access() results as one text: each obstacle, then how they were judged, said once.
export function joinDenials(results: AccessResult[]): string {
  const bad = results.filter((r): r is Extract<AccessResult, { ok: false }> => !r.ok);
  const bases = [...new Set(bad.map((r) => r.basis))];
  return bases
    .map(
      (b) =>
        `${bad
          .filter((r) => r.basis === b)
          .map((r) => r.obstacle)
          .join("; ")} (${b})`,
    )
    .join("; ");
}
