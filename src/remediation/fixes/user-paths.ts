import path from "node:path";
import { parseFind } from "../../checks/fs-permissions.ts";
import type { AppPath, AppWrites } from "../../probes/app-writes.ts";
import type { Account, UserDb } from "../../probes/files.ts";
import type { Transport } from "../../transport/types.ts";
import type { Action } from "../fix.ts";
import { inspectPaths } from "../pinned.ts";
import { grant, type Fallback } from "./modes.ts";
import { PathPlan } from "./path-plan.ts";

// Directories shared with the rest of the host: never handed to the service's account, even when a log file lies in one.
const SHARED = new Set(["/", "/etc", "/home", "/opt", "/run", "/srv", "/tmp", "/usr", "/var", "/var/lib", "/var/log", "/var/tmp"]);
// At most this many entries of a written directory that the old account owns are handed over in one run.
export const HANDOVER_CAP = 500;
const FIND_TIMEOUT_MS = 20_000;

export type WriteTarget = Pick<AppPath, "path" | "kind">;

// What the service writes (FS-007's paths) plus the log directory, each once.
export function writeTargets(paths: WriteTarget[], logDir: string | null): WriteTarget[] {
  const all = [...paths.map(({ path: p, kind }) => ({ path: p, kind })), ...(logDir ? [{ path: logDir, kind: "dir" as const }] : [])];
  return all.filter((t, i) => all.findIndex((o) => o.path === t.path) === i);
}

// The prefixes a handover may change: each written path and the directory a log file is (re)created in.
export function writeRoots(targets: WriteTarget[]): string[] {
  const roots = targets.flatMap((t) => (t.kind === "file" || t.kind === "rotating" ? [t.path, path.dirname(t.path)] : [t.path]));
  return [...new Set(roots)].filter((r) => !SHARED.has(r));
}

// Entries under `dir` (itself included, links never) owned by `uid`, parents first; `more` when past the cap.
async function ownedBy(t: Transport, dir: string, uid: number): Promise<{ hits: string[]; more: boolean }> {
  // NUL-framed: a name holding a newline stays one path. find's status comes back on stderr (parseFind reads it).
  const script = 'find -P "$1" -xdev -uid "$2" ! -type l -printf "%p\\0"; echo "find-exit $?" >&2';
  const r = await t.run(["sh", "-c", `{ ${script}; } | head -z -n "$3"`, "sh", dir, String(uid), String(HANDOVER_CAP + 1)], {
    timeoutMs: FIND_TIMEOUT_MS,
  });
  return parseFind(r.stdout, r.stderr, dir, HANDOVER_CAP);
}

export type Handover = { actions: Action[]; notes: string[] };

// Owner and mode of every path the service writes, for the account User=/Group= moves it to (`who`): each written
// path made writable the smallest way (PathPlan), and what the old account (`fromUid`, root) created under the written
// directories handed over, so the first start as `who` does not crash-loop on a log file root created.
export async function planHandover(
  t: Transport,
  writes: AppWrites,
  logDir: string | null,
  db: UserDb,
  who: Account,
  to: Fallback,
  fromUid: number,
): Promise<Handover> {
  const targets = writeTargets(writes.paths, logDir);
  const pp = new PathPlan(t, writeRoots(targets));
  const cannot: string[] = [];
  const seen = await inspectPaths(
    t,
    targets.map((x) => x.path),
  );
  for (const x of targets) {
    const i = seen.get(x.path);
    if (i?.kind === "link" || i?.kind === "refused") {
      cannot.push("why" in i ? i.why : `${x.path} is a symbolic link: left alone (root does not act through links)`);
      continue;
    }
    const dir = path.dirname(x.path);
    const exists = i !== undefined && i.kind !== "missing";
    const need = x.kind === "file" ? [exists ? x.path : dir] : x.kind === "rotating" ? [dir, ...(exists ? [x.path] : [])] : exists ? [x.path] : [];
    if (!need.length) cannot.push(`${x.path} does not exist (FS-007 names it when the app needs it)`);
    for (const p of need) {
      const why = SHARED.has(p)
        ? `${p} is shared with the host: give ${who.name} a directory of its own for ${x.path}`
        : await pp.clear(p, who, ["w"], to, "SEC-008");
      if (why) cannot.push(why);
    }
    if (!exists || i?.kind !== "dir" || SHARED.has(x.path)) continue;
    const { hits, more } = await ownedBy(t, x.path, fromUid);
    for (const h of hits) {
      const n = await pp.get(h);
      if (n) await pp.set(h, grant(n, who, "w", to), "SEC-008");
    }
    if (more) cannot.push(`more than ${HANDOVER_CAP} entries under ${x.path} belong to uid ${fromUid}: chown the rest to ${who.name} by hand`);
  }
  const { actions, notes } = pp.render(db);
  const unknown = writes.unknown.map((u) => `not learned, so not handed over: ${u}`);
  return { actions, notes: [...notes, ...cannot.map((c) => `not handed over: ${c}`), ...unknown] };
}
