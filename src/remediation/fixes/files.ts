import { findWorldWritable } from "../../checks/fs-permissions.ts";
import type { ProbeContext } from "../../probes/context.ts";
import { access, accountFor, modelAccess, serviceAccount, serviceIds, userDb, type UserDb } from "../../probes/files.ts";
import { serviceUnit, type Unit } from "../../probes/systemd.ts";
import { startupCodeFiles } from "../../probes/code-files.ts";
import { defineFix, type Action, type Fix, type FixEnv, type FixPlan } from "../fix.ts";
import { gunicornLogFiles, parseModeLines, withoutWorldWrite, within, type Fallback, type Who } from "./modes.ts";
import { PathPlan } from "./path-plan.ts";
import { inspectPaths } from "../pinned.ts";

// At most this many world-writable paths are changed in one run (one chmod each, all listed in the plan).
export const WORLD_WRITABLE_CAP = 500;
// Notes listing before -> after per path stop here (the actions list every path anyway).
const NOTES_CAP = 30;

// The unit's user and group as numbers and names, for chown targets.
function unitOwner(db: UserDb, u: Unit): { uid: number; gid: number; user: string; group: string } {
  const user = u.user || "root";
  const pw = db.users.get(user);
  if (!pw) throw new Error(`the unit's User=${user} is not in /etc/passwd`);
  const g = u.group ? db.groups.get(u.group) : undefined;
  if (u.group && !g) throw new Error(`the unit's Group=${u.group} is not in /etc/group`);
  return { uid: pw.uid, gid: g?.gid ?? pw.gid, user, group: u.group || (db.gidName.get(pw.gid) ?? String(pw.gid)) };
}

// The identity the checks judge with (the running process's credentials, else the unit's account), and the
// group a path is handed to: the unit's Group= when that identity holds it, else its primary group.
async function checkIdentity(ctx: ProbeContext, db: UserDb, u: Unit): Promise<{ who: Who & { name: string }; gid: number }> {
  const ids = await serviceIds(ctx);
  const owner = unitOwner(db, u);
  const gid = ids.gids.includes(owner.gid) ? owner.gid : (ids.gids[0] as number);
  return { who: { uid: ids.uid, gids: ids.gids, name: db.uidName.get(ids.uid) ?? `uid ${ids.uid}` }, gid };
}

// The paths fix-permissions may change: the project, the unit's WorkingDirectory, the logs, STATIC_ROOT.
async function permissionRoots(ctx: ProbeContext): Promise<string[]> {
  const u = await serviceUnit(ctx);
  const c = ctx.config;
  const roots = [c.projectDir, ...(c.logDir ? [c.logDir] : []), c.staticRoot, ...(u.workingDirectory ? [u.workingDirectory] : [])];
  return [...new Set(roots)].filter((r, _, all) => !all.some((o) => o !== r && within(r, [o])));
}

// After planning, the kernel may still say no where mode bits say yes (an ACL, a read-only or hidden mount of the
// service's sandbox): chmod cannot cure that, so say so instead of planning a change that would be rolled back.
async function kernelStillDenies(ctx: ProbeContext, path: string, want: "r" | "w" | "x"): Promise<string | undefined> {
  const u = await serviceUnit(ctx);
  const db = await userDb(ctx);
  const who = accountFor(db, u.user, u.group);
  if (!who) return undefined;
  const r = await access(ctx, path, who, want);
  return r.ok ? undefined : `${r.reason}: the mode bits already allow it, so no chmod/chown cures this`;
}

// Plans each red ID's owner/mode changes on one PathPlan; IDs it cannot cure are returned with why.
async function planPermissions(env: FixEnv): Promise<FixPlan> {
  const { ctx, config, ids } = env;
  const u = await serviceUnit(ctx);
  const db = await userDb(ctx);
  const owner = unitOwner(db, u);
  const { who, gid } = await checkIdentity(ctx, db, u);
  const pp = new PathPlan(ctx.transport, await permissionRoots(ctx));
  // Code: keep its owner, hand the group over; logs: the unit's user takes them (it writes there).
  const code: Fallback = { uid: owner.uid, gid, takeOwner: false };
  const logs: Fallback = { uid: who.uid, gid, takeOwner: true };
  const cannot: string[] = [];

  if (ids.includes("SVC-004")) {
    const wd = u.workingDirectory;
    const st = wd ? await ctx.transport.stat(wd) : undefined;
    if (!wd) cannot.push("SVC-004: WorkingDirectory= is not set (the unit's fix sets it)");
    else if (!st) cannot.push(`SVC-004: ${wd} does not exist: deploy the code there (this fix creates no code directory)`);
    else if (!st.isDirectory) cannot.push(`SVC-004: ${wd} is not a directory`);
    else {
      const why = await pp.clear(wd, who, ["x", "r"], code, "SVC-004");
      if (why) cannot.push(`SVC-004: ${why}`);
    }
  }

  if (ids.includes("FS-001")) {
    // What FS-001 judged, and only where the service is denied now (a directory also needs entering).
    const [files, account] = await Promise.all([startupCodeFiles(ctx), serviceAccount(ctx)]);
    const judged = await Promise.all(files.map(async (f) => ({ f, r: await access(ctx, f, account, "r") })));
    for (const { f } of judged.filter((j) => !j.r.ok)) {
      const planned = pp.changed().length;
      const dir = (await ctx.transport.stat(f))?.isDirectory;
      const why = await pp.clear(f, who, dir ? ["r", "x"] : ["r"], code, "FS-001");
      // Nothing to change by mode bits for this file: then the kernel's no is an ACL or the sandbox.
      const denied = why ?? (pp.changed().length === planned ? await kernelStillDenies(ctx, f, "r") : undefined);
      if (denied) cannot.push(`FS-001: ${denied}`);
    }
  }

  // A link planted in the log directory keeps FS-002 red whatever we do: FS-002 goes to the manual list, so the
  // other IDs' changes are kept rather than rolled back with it.
  const manualIds: Record<string, string> = {};
  if (ids.includes("FS-002")) {
    const linked: string[] = [];
    const why = await planLogs(ctx, pp, u, who, logs, owner.uid, gid, linked);
    if (why) cannot.push(`FS-002: ${why}`);
    if (linked.length) manualIds["FS-002"] = linked.join("; ");
  }

  if (ids.includes("FS-005")) {
    const { hits, more } = await findWorldWritable(ctx, config.projectDir, WORLD_WRITABLE_CAP);
    if (more)
      cannot.push(
        `FS-005: more than ${WORLD_WRITABLE_CAP} world-writable paths under ${config.projectDir}: ` +
          `review them and chmod o-w by hand (find ${config.projectDir} -xdev -perm -0002 ! -type l)`,
      );
    else
      for (const { path } of parseModeLines(hits)) {
        const n = await pp.get(path);
        if (n) await pp.set(path, { ...n, mode: withoutWorldWrite(n.mode) }, "FS-005");
      }
  }

  const { actions, notes } = pp.render(db);
  const shown = notes.length > NOTES_CAP ? [...notes.slice(0, NOTES_CAP), `... and ${notes.length - NOTES_CAP} more paths (every one is listed above)`] : notes;
  if (!actions.length && cannot.length) return { manual: cannot.join("; ") };
  // An ID this fix cannot cure keeps the others' changes: it stays red, and says why here.
  return { actions, notes: [...shown, ...cannot.map((c) => `cannot fix ${c}`)], manualIds };
}

// FS-002: the log directory (created when missing, with the files Gunicorn is told to write there) and every
// *.log in it writable by the service; a read-only sandbox mount is the unit's matter, not a chmod's.
// `linked`: log names that are symbolic links (the service can plant them here), reported and left as they are.
async function planLogs(
  ctx: ProbeContext,
  pp: PathPlan,
  u: Unit,
  who: Who & { name: string },
  logs: Fallback,
  uid: number,
  gid: number,
  linked: string[],
): Promise<string | undefined> {
  const dir = ctx.config.logDir;
  if (!dir) return "logDir is null: the app logs to the journal, there is no log directory to fix";
  const st = await pp.get(dir);
  if (!st) {
    const parent = dir.slice(0, dir.lastIndexOf("/")) || "/";
    const p = await pp.get(parent);
    if (!p?.isDirectory) return `${dir} does not exist, nor its parent ${parent}`;
    const why = await pp.clear(parent, who, ["x"], logs, "FS-002");
    if (why) return why;
    pp.create(dir, { mode: 0o750, uid, gid, isDirectory: true }, "FS-002");
    for (const f of gunicornLogFiles(u.execStart?.argv ?? []).filter((f) => f.startsWith(`${dir}/`) && !f.slice(dir.length + 1).includes("/")))
      pp.create(f, { mode: 0o640, uid, gid, isDirectory: false }, "FS-002");
    return undefined;
  }
  if (!st.isDirectory) return `${dir} is not a directory`;
  const names = await ctx.transport.readDir(dir);
  const problems: string[] = [];
  const planned = pp.changed().length;
  const why = await pp.clear(dir, who, ["w"], logs, "FS-002");
  if (why) return why;
  const files = names.filter((x) => x.endsWith(".log")).map((n) => `${dir}/${n}`);
  // The service can write here, so any name may be a link it planted: such a name is reported, never changed.
  const seen = await inspectPaths(ctx.transport, files);
  for (const f of files) {
    const i = seen.get(f);
    if (i?.kind === "link" || i?.kind === "refused") {
      const line = "why" in i ? i.why : `${f} is a symbolic link${i.target ? ` (to ${i.target})` : ""}: remove it (root does not act through links)`;
      problems.push(line);
      linked.push(line);
      continue;
    }
    const w = await pp.clear(f, who, ["w"], logs, "FS-002");
    if (w) problems.push(w);
  }
  if (!problems.length && pp.changed().length === planned) {
    const denied = await kernelStillDenies(ctx, dir, "w");
    if (denied) return `${denied}; list ${dir} in the unit's ReadWritePaths= (the unit fix) when its sandbox makes it read-only`;
  }
  return problems.length ? problems.join("; ") : undefined;
}

// SVC-004, FS-001, FS-002, FS-005: owners and modes of the paths those checks found wrong, nothing else.
export const fixPermissions = defineFix({
  id: "fix-permissions",
  title: "Give the unit's user/group access to its working directory, code and logs; remove world-write bits",
  rank: 40,
  restartsApp: false,
  touches: async ({ ctx }) => ({ files: await permissionRoots(ctx), units: [] }),
  plan: planPermissions,
});

// FS-004: collectstatic as the unit's user with its environment, after STATIC_ROOT is made writable for it.
export const collectstatic = defineFix({
  id: "collectstatic",
  title: "Collect static files (manage.py collectstatic --noinput) as the service",
  rank: 70,
  restartsApp: false,
  touches: ({ config }) => ({ files: [config.staticRoot], units: [] }),
  async plan({ ctx, config }) {
    const u = await serviceUnit(ctx);
    if (u.loadState !== "loaded") return { manual: `${u.id} is ${u.loadState || "not installed"}: collectstatic runs with the unit's user and environment` };
    const db = await userDb(ctx);
    const owner = unitOwner(db, u);
    // setpriv --init-groups, as the runner starts it: the user's passwd group, Group= and its /etc/group memberships.
    const acct = accountFor(db, owner.user, u.group);
    if (!acct) return { manual: `the unit's User=${owner.user} is not in /etc/passwd` };
    const who = { ...acct, name: owner.user };
    const root = config.staticRoot;
    const pp = new PathPlan(ctx.transport, [root]);
    const st = await pp.get(root);
    if (!st) {
      const parent = root.slice(0, root.lastIndexOf("/")) || "/";
      const p = await modelAccess(ctx, parent, who, "x");
      if (!p.ok) return { manual: `STATIC_ROOT ${root} does not exist and ${p.obstacle}` };
      pp.create(root, { mode: 0o755, uid: owner.uid, gid: owner.gid, isDirectory: true }, "FS-004");
    } else {
      if (!st.isDirectory) return { manual: `STATIC_ROOT ${root} is not a directory` };
      const why = await pp.clear(root, who, ["w"], { uid: owner.uid, gid: owner.gid, takeOwner: true }, "FS-004");
      if (why) return { manual: `STATIC_ROOT is not writable by ${owner.user}: ${why}` };
    }
    const { actions, notes } = pp.render(db);
    const python = `${config.venvDir}/bin/python`;
    const run: Action = {
      kind: "run",
      argv: [python, "manage.py", "collectstatic", "--noinput"],
      show: `${python} manage.py collectstatic --noinput`,
      asService: true,
      undo: `nothing to undo for the app: collected copies stay in ${root} (they are rebuilt from the code by the next collectstatic)`,
    };
    return { actions: [...actions, run], notes };
  },
});

// The files fixes, listed in fixes/index.ts.
export const fileFixes: Fix[] = [fixPermissions, collectstatic];
