import type { Transport } from "../../transport/types.ts";
import type { Action } from "../fix.ts";
import type { UnitFacts } from "./unit-file.ts";

// Env-file modes the validator accepts (FS-003): private to the owner, readable by the group at most.
const PRIVATE_MODES = [0o400, 0o440, 0o600, 0o640];

// The permissions baseline the rendered unit needs, as actions (only where the host differs): the log directory
// (775, the service's user and group), its log files (664), and each env file private (640) and owned by root or the
// service's user. Nothing is removed.
export async function baselineActions(t: Transport, f: UnitFacts, ids: { uid: number; gid: number }): Promise<Action[]> {
  const out: Action[] = [];
  const dir = await t.stat(f.logDir);
  if (!dir || (dir.mode & 0o7777) !== 0o775 || dir.uid !== ids.uid || dir.gid !== ids.gid) out.push({ kind: "mkdir", path: f.logDir, mode: 0o775, owner: f.user, group: f.group });
  for (const name of ["error.log", "access.log"]) {
    const path = `${f.logDir}/${name}`;
    const st = await t.stat(path);
    if (!st?.isFile) continue; // Gunicorn creates it
    if (st.uid !== ids.uid || st.gid !== ids.gid) out.push({ kind: "chown", path, owner: f.user, group: f.group });
    if ((st.mode & 0o7777) !== 0o664) out.push({ kind: "chmod", path, mode: 0o664 });
  }
  for (const path of f.envFiles) {
    const st = await t.stat(path);
    if (!st) continue;
    if (st.uid !== 0 && st.uid !== ids.uid) out.push({ kind: "chown", path, owner: f.user, group: f.group });
    if (!PRIVATE_MODES.includes(st.mode & 0o7777)) out.push({ kind: "chmod", path, mode: 0o640 });
  }
  return out;
}
