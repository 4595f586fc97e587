import { userInfo } from "node:os";
import { z } from "zod";
import type { Transport } from "../transport/types.ts";
import { psqlArgv } from "./actions.ts";
import { audit } from "./audit.ts";
import { BackupFolder, STATE_DIR, must, restoreEntry, undoUnit, type ManifestEntry } from "./backup.ts";
import { EXIT, RemediateError } from "./errors.ts";
import { takeLock } from "./lock.ts";

// Run folders are named <UTC stamp>-<random>: in name order, oldest first.
const RUN_DIR = /^\d{8}T\d{6}Z?-[0-9a-f]+$/;

const Identity = z.object({ dev: z.number(), ino: z.number() });
// manifest.json as BackupFolder writes it; read back to undo an interrupted run.
export const ManifestSchema = z.object({
  service: z.string().optional(),
  psql: z.object({ socketDir: z.string(), port: z.number() }).optional(),
  rolledBack: z.string().optional(),
  files: z.array(
    z.object({
      path: z.string(),
      existed: z.boolean(),
      kind: z.string().optional(),
      mode: z.number().optional(),
      uid: z.number().optional(),
      gid: z.number().optional(),
      dev: z.number().optional(),
      ino: z.number().optional(),
      copy: z.string().optional(),
      sha256: z.string().optional(),
      xattrs: z.record(z.string(), z.string()).optional(),
      created: Identity.optional(),
      staged: z.string().optional(),
      fix: z.string(),
    }),
  ),
  sqlUndo: z.array(z.object({ fix: z.string(), undo: z.string(), database: z.string().optional() })),
  // Absent in manifests written before units were recorded.
  units: z.array(z.object({ fix: z.string(), unit: z.string(), verb: z.enum(["start", "enable"]), was: z.string() })).default([]),
});

export type RollbackOptions = { which: string; transport: () => Transport; say: (l: string) => void; confirm: () => Promise<boolean>; dryRun: boolean };

// `remediate rollback <run id|latest>`: puts back everything a run's manifest recorded (an interrupted run, or one
// an operator wants undone), newest change first, then reloads systemd and restarts the app if it runs. Safe to run
// again: every restore sets the recorded state, whatever is there now.
export async function rollbackRun(o: RollbackOptions): Promise<number> {
  const t = o.transport();
  const runs = (await t.readDir(STATE_DIR).catch(() => [] as string[])).filter((n) => RUN_DIR.test(n)).sort();
  const name = o.which === "latest" ? runs.at(-1) : runs.find((r) => r === o.which);
  if (!name)
    throw new RemediateError(`no remediation run ${JSON.stringify(o.which)} in ${STATE_DIR} (newest: ${runs.slice(-3).join(", ") || "none"})`, EXIT.badReport);
  const dir = `${STATE_DIR}/${name}`;
  let m: z.infer<typeof ManifestSchema>;
  try {
    m = ManifestSchema.parse(JSON.parse(await t.readFile(`${dir}/manifest.json`)));
  } catch (err) {
    throw new RemediateError(`${dir}/manifest.json cannot be read as a remediation manifest: ${(err as Error).message.split("\n")[0]}`, EXIT.badReport);
  }
  const entries = [...m.files].reverse() as ManifestEntry[];
  const sql = [...m.sqlUndo].reverse();
  const units = [...m.units].reverse().filter((u) => u.was !== (u.verb === "start" ? "active" : "enabled"));
  o.say(`rollback of ${dir}${m.rolledBack ? ` (rolled back before, at ${m.rolledBack}: doing it again sets the same state)` : ""}:`);
  for (const e of entries) o.say(`  - ${describeEntry(e)}`);
  for (const q of sql) o.say(`  - SQL on ${q.database ?? "postgres"} (${q.fix}): undo recorded before the change`);
  for (const u of units) o.say(`  - ${u.verb === "start" ? "stop" : "disable"} ${u.unit} (it was ${u.was} before ${u.fix})`);
  const nothing = !entries.length && !sql.length && !units.length;
  if (nothing) o.say("  nothing was recorded: nothing to put back");
  if (o.dryRun || nothing) return EXIT.ok;
  if (!(await o.confirm())) return EXIT.partial;
  const release = await takeLock(t, { pid: process.pid, user: userInfo().username, report: `rollback ${name}` });
  const failed: string[] = [];
  try {
    for (const e of entries)
      await restoreEntry(t, e).catch((err: Error) => {
        failed.push(`${e.path}: ${err.message}`);
      });
    for (const q of sql) {
      if (!m.psql) {
        failed.push(`SQL undo of ${q.fix}: the manifest names no local cluster`);
        continue;
      }
      await must(t, psqlArgv(q.database ?? "postgres", m.psql), q.undo).catch((err: Error) => {
        failed.push(`SQL undo of ${q.fix}: ${err.message}`);
      });
    }
    // Units last: an SQL undo may need the database server a step started.
    for (const u of units)
      await undoUnit(t, u).catch((err: Error) => {
        failed.push(`${u.unit}: ${err.message}`);
      });
    await t.run(["systemctl", "daemon-reload"]);
    if (m.service) await t.run(["systemctl", "try-restart", "--", m.service], { timeoutMs: 60_000 });
    const folder = BackupFolder.at(t, dir);
    Object.assign(folder, { entries: m.files, sqlUndo: m.sqlUndo, units: m.units });
    Object.assign(folder.meta, { service: m.service, psql: m.psql, rolledBack: new Date().toISOString() });
    await folder.writeManifest();
    const result = failed.length ? "failed" : "rolled back";
    await audit(
      t,
      {
        report: dir,
        fix: "rollback",
        result,
        reason: failed.join("; ") || undefined,
        files: m.files.map((e) => e.path),
        backup: dir,
      },
      [],
    );
    for (const f of failed) o.say(`  FAILED ${f}`);
    o.say(
      failed.length
        ? `rollback incomplete: ${failed.length} item(s) could not be put back`
        : `rolled back: ${entries.length} path(s), ${sql.length} SQL undo(s), ` +
            `${units.length} unit(s)${m.service ? `; ${m.service} restarted if it was running` : ""}`,
    );
    return failed.length ? EXIT.partial : EXIT.ok;
  } finally {
    await release();
  }
}

function describeEntry(e: ManifestEntry): string {
  if (!e.existed && e.staged && !e.created) return `remove ${e.staged}, made by ${e.fix} and not yet placed at ${e.path}`;
  if (!e.existed) return e.created ? `remove ${e.path} (created by ${e.fix})` : `${e.path}: nothing created (${e.fix})`;
  if (e.copy) return `restore ${e.path}: content, owner ${e.uid}:${e.gid}, mode ${(e.mode ?? 0).toString(8)} (${e.fix})`;
  return `restore owner ${e.uid}:${e.gid} and mode ${(e.mode ?? 0).toString(8)} of ${e.path} (${e.fix})`;
}
