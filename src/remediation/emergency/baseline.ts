import type { Transport } from "../../transport/types.ts";
import type { Action } from "../fix.ts";
import { identityOf, inspectPaths, type Facts } from "../pinned.ts";
import { logsToFiles, type UnitFacts } from "./unit-file.ts";

// Env-file modes the validator accepts (FS-003): private to the owner, readable by the group at most.
const PRIVATE_MODES = [0o400, 0o440, 0o600, 0o640];

// The permissions baseline the rendered unit needs, as actions (only where the host differs): the log directory
// (775, the service's user and group), its log files (664), and each env file private (640) and owned by root or the
// service's user. Nothing is removed. Paths are looked at without following links: a link (the log directory is the
// service's own, so it can plant one) is left alone and named in `notes`.
export async function baselineActions(t: Transport, f: UnitFacts, ids: { uid: number; gid: number }): Promise<{ actions: Action[]; notes: string[] }> {
  const out: Action[] = [];
  const notes: string[] = [];
  // Gunicorn logging to the journal: the log directory is not the service's (it may be the project itself).
  const logDir = logsToFiles(f) ? f.logDir : null;
  const logs = logDir ? ["error.log", "access.log"].map((n) => `${logDir}/${n}`) : [];
  const envFiles = f.envFiles.map((e) => e.path);
  const seen = await inspectPaths(t, [...(logDir ? [logDir, ...logs] : []), ...envFiles]);
  const look = (path: string): Facts | undefined => {
    const i = seen.get(path);
    if (!i || i.kind === "missing") return undefined;
    if (i.kind === "refused") notes.push(`${path} left alone: ${i.why}`);
    else if (i.kind === "link")
      notes.push(`${path} left alone: it is a symbolic link${i.target ? ` (to ${i.target})` : ""}, and root does not act through links`);
    else return i;
    return undefined;
  };
  const dir = logDir ? seen.get(logDir) : undefined;
  if (logDir && dir?.kind === "missing") out.push({ kind: "mkdir", path: logDir, mode: 0o775, owner: f.user, group: f.group });
  else if (logDir && look(logDir)?.kind === "dir") {
    const d = dir as Facts;
    if (d.mode !== 0o775 || d.uid !== ids.uid || d.gid !== ids.gid) out.push({ kind: "mkdir", path: logDir, mode: 0o775, owner: f.user, group: f.group });
    for (const path of logs) {
      const st = look(path);
      if (st?.kind !== "file") continue; // Gunicorn creates it
      if (st.uid !== ids.uid || st.gid !== ids.gid) out.push({ kind: "chown", path, owner: f.user, group: f.group, expect: identityOf(st) });
      if (st.mode !== 0o664) out.push({ kind: "chmod", path, mode: 0o664, expect: identityOf(st) });
    }
  } else if (dir && dir.kind !== "refused" && dir.kind !== "link") notes.push(`${logDir} left alone: it is not a directory`);
  for (const path of envFiles) {
    const st = look(path);
    if (!st) continue;
    if (st.uid !== 0 && st.uid !== ids.uid) out.push({ kind: "chown", path, owner: f.user, group: f.group, expect: identityOf(st) });
    if (!PRIVATE_MODES.includes(st.mode)) out.push({ kind: "chmod", path, mode: 0o640, expect: identityOf(st) });
  }
  return { actions: out, notes };
}
