import { appDatabase } from "../probes/app-database.ts";
import type { Config } from "../config/schema.ts";
import type { ProbeContext } from "../probes/context.ts";
import { unitEnv } from "../probes/environment.ts";
import { isLocalDatabase, psqlTarget } from "../probes/postgres-server.ts";
import { serviceUnit, unitName } from "../probes/systemd.ts";
import type { Transport } from "../transport/types.ts";
import type { ApplyEnv } from "./actions.ts";
import type { BackupFolder } from "./backup.ts";
import { freshContext, recheck } from "./recheck.ts";
import { redOf } from "./plan.ts";

// What applyAction needs on this host: where SQL goes, and the service's identity and environment read when a
// step runs (after earlier steps changed the unit); waiting re-checks with the validator's own checks.
export async function makeApplyEnv(config: Config, mk: () => Transport, t: Transport, backup: BackupFolder, ctx: ProbeContext): Promise<Omit<ApplyEnv, "fix">> {
  const db = await appDatabase(ctx).catch(() => undefined);
  const psql = db?.ok && !isLocalDatabase(db.target) ? undefined : psqlTarget(db?.ok ? db.target : undefined);
  Object.assign(backup.meta, { psql, service: unitName(config.service) });
  await backup.writeManifest();
  return {
    t,
    backup,
    psql,
    timeoutMs: config.timeouts.commandMs,
    async asService(argv) {
      const now = await freshContext(config, t);
      const unit = await serviceUnit(now);
      const { env: vars } = await unitEnv(now);
      const user = unit.user || "root";
      const cwd = unit.workingDirectory || `${config.projectDir}/backend`;
      const base = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8" };
      return {
        argv: ["setpriv", `--reuid=${user}`, `--regid=${unit.group || user}`, "--init-groups", "--", ...argv],
        cwd,
        env: { ...base, DJANGO_SETTINGS_MODULE: config.settingsModule, ...vars, PYTHONDONTWRITEBYTECODE: "1" },
      };
    },
    async waitGreen(ids, seconds) {
      const until = Date.now() + seconds * 1000;
      for (;;) {
        const red = redOf(ids, await recheck(config, mk, ids));
        if (!red.length || Date.now() >= until) return red;
        await new Promise((r) => setTimeout(r, 500));
      }
    },
  };
}
