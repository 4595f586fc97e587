import { parseEnvFile } from "../../probes/environment.ts";
import { userDb } from "../../probes/files.ts";
import { secretValues } from "../../probes/redact.ts";
import { serviceUnit } from "../../probes/systemd.ts";
import { STATE_DIR, sha256, type ManifestEntry } from "../backup.ts";
import type { Action, FixEnv, FixPlan } from "../fix.ts";

// The newest backed-up copy of `path` in the remediation run folders whose checksum still matches its manifest.
export async function newestBackup(t: FixEnv["transport"], path: string): Promise<{ dir: string; entry: ManifestEntry; text: string } | undefined> {
  const dirs = await t.readDir(STATE_DIR).catch(() => [] as string[]);
  // Run folders are named <UTC stamp>-<random>: newest last in name order.
  for (const d of dirs
    .filter((n) => /^\d{8}T\d{6}Z?-[0-9a-f]+$/.test(n))
    .sort()
    .reverse()) {
    const dir = `${STATE_DIR}/${d}`;
    let files: ManifestEntry[];
    try {
      files = (JSON.parse(await t.readFile(`${dir}/manifest.json`)) as { files?: ManifestEntry[] }).files ?? [];
    } catch {
      continue;
    }
    const entry = files.find((e) => e.path === path && e.existed && e.copy && e.sha256);
    if (!entry?.copy || !(await t.stat(entry.copy))?.isFile) continue;
    if ((await sha256(t, entry.copy)) !== entry.sha256) continue; // a damaged copy is no backup
    return { dir, entry, text: await t.readFile(entry.copy) };
  }
  return undefined;
}

// Plans restore-env-file: each required env file that is missing comes back from its newest backup, with the owner
// it had and its mode made private; without one, the operator restores it (we never invent secrets).
export async function restoreEnvFile(env: FixEnv): Promise<FixPlan> {
  const { ctx, transport } = env;
  const unit = await serviceUnit(ctx);
  if (!unit.environmentFiles.length) return { manual: "the unit names no EnvironmentFile=: add one (a unit drop-in) pointing at the env file" };
  const db = await userDb(ctx);
  const actions: Action[] = [];
  const notes: string[] = [];
  const lacking: string[] = [];
  for (const f of unit.environmentFiles) {
    if (f.optional || (await transport.stat(f.path))?.isFile) continue;
    const b = await newestBackup(transport, f.path);
    if (!b) {
      lacking.push(f.path);
      continue;
    }
    const { entry } = b;
    // Secrets never come back world-readable, whatever mode the backed-up file had.
    let mode = (entry.mode ?? 0o600) & 0o640;
    if (![0o400, 0o440, 0o600, 0o640].includes(mode)) mode = 0o640;
    for (const s of secretValues(parseEnvFile(b.text), ctx.config.secrets)) env.addSecret(s);
    actions.push({
      kind: "write",
      path: f.path,
      content: b.text,
      mode,
      owner: db.uidName.get(entry.uid ?? 0) ?? String(entry.uid ?? 0),
      group: db.gidName.get(entry.gid ?? 0) ?? String(entry.gid ?? 0),
    });
    notes.push(
      `${f.path} comes back as it was before the remediation run ${b.dir} changed it (names: ` +
        `${Object.keys(parseEnvFile(b.text)).join(", ")}); changes made after that are not in it`,
    );
  }
  if (lacking.length)
    return { manual: `no remediation backup of ${lacking.join(", ")} exists: restore it from your secrets store or backup (secrets are never invented)` };
  return actions.length ? { actions, notes } : { manual: "every required env file exists" };
}
