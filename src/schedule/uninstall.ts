import { userInfo } from "node:os";
import { audit } from "../remediation/audit.ts";
import { type ManifestEntry, restoreEntry } from "../remediation/backup.ts";
import { EXIT, RemediateError } from "../remediation/errors.ts";
import { takeLock } from "../remediation/lock.ts";
import { ManifestSchema } from "../remediation/rollback.ts";
import type { Transport } from "../transport/types.ts";
import { readRecord, removeRecord } from "./record.ts";
import { UNITS } from "./units.ts";

const FIX = "schedule uninstall";

// `schedule uninstall`: stops and disables the timer (systemctl removes its own link), then puts back every path
// install's manifest recorded (removes what it created, only that very file), reloads systemd and forgets the
// failed state of the units: /etc/systemd/system is as it was before install.
export async function uninstall(t: Transport, o: { dryRun: boolean; say: (l: string) => void }): Promise<number> {
  const r = await readRecord(t);
  if (!r) throw new RemediateError("nothing is installed (no install record in /var/lib/ddv/schedule)", EXIT.wrongHost);
  const m = ManifestSchema.parse(JSON.parse(await t.readFile(`${r.backup}/manifest.json`)));
  const entries = [...m.files].reverse() as ManifestEntry[];
  o.say(`uninstall (installed ${r.installedAt}, backup ${r.backup}): systemctl disable --now ${UNITS.timer}; stop ${UNITS.service}`);
  for (const e of entries) o.say(`  - ${e.existed ? `restore owner and mode of ${e.path}` : `remove ${e.path} (created by install)`}`);
  if (o.dryRun) return EXIT.ok;
  const release = await takeLock(t, { pid: process.pid, user: userInfo().username, report: FIX });
  const failed: string[] = [];
  try {
    const units = r.units.filter((u) => u !== UNITS.timer);
    for (const argv of [
      ["disable", "--now", UNITS.timer],
      ["stop", ...units],
    ]) {
      const s = await t.run(["systemctl", ...argv], { timeoutMs: 120_000 });
      if (s.exitCode !== 0) failed.push(`systemctl ${argv.join(" ")}: ${s.stderr.trim().split("\n")[0]}`);
    }
    for (const e of entries) await restoreEntry(t, e).catch((err: Error) => failed.push(`${e.path}: ${err.message}`));
    await t.run(["systemctl", "daemon-reload"]);
    // A failed gate run stays in systemd's memory (systemctl --failed) until reset.
    await t.run(["systemctl", "reset-failed", ...r.units]);
    if (!failed.length) await removeRecord(t);
    const result = failed.length ? "failed" : "uninstalled";
    await audit(
      t,
      {
        report: FIX,
        fix: FIX,
        result,
        reason: failed.join("; ") || undefined,
        files: entries.map((e) => e.path),
        backup: r.backup,
      },
      [],
    );
  } finally {
    await release();
  }
  for (const f of failed) o.say(`  FAILED ${f}`);
  o.say(failed.length ? `uninstall incomplete: ${failed.length} item(s) could not be put back (the record is kept: run it again)` : "uninstalled");
  return failed.length ? EXIT.partial : EXIT.ok;
}
