import { userInfo } from "node:os";
import type { Config } from "../../config/schema.ts";
import type { ProbeContext } from "../../probes/context.ts";
import { unitEnv } from "../../probes/environment.ts";
import { psqlTarget } from "../../probes/postgres-server.ts";
import { readDatabaseUrl } from "../../probes/postgres.ts";
import { serviceUnit } from "../../probes/systemd.ts";
import { hostIdentity } from "../../runner/identity.ts";
import type { Transport } from "../../transport/types.ts";
import type { ApplyEnv } from "../actions.ts";
import { audit } from "../audit.ts";
import type { BackupFolder } from "../backup.ts";
import { takeLock } from "../lock.ts";
import { freshContext, isRed, recheck } from "../recheck.ts";
import type { StepLog } from "./steps.ts";

// Takes the host's remediation lock in the playbook's name; resolves its release.
export function lockFor(t: Transport, command: string): Promise<() => Promise<void>> {
  return takeLock(t, { pid: process.pid, user: userInfo().username, report: command });
}

// Appends the playbook's one audit line: its steps, result, the files it backed up and where.
export async function auditPlaybook(ctx: ProbeContext, command: string, ids: string[], result: string, log: StepLog, backup?: BackupFolder, reason?: string) {
  const host = (await hostIdentity(ctx).catch(() => ({ hostname: "?" }))).hostname;
  const steps = log.steps.map((s) => `${s.name}: ${s.result}`).join("; ");
  await audit(
    ctx.transport,
    { time: new Date().toISOString(), user: userInfo().username, host, report: command, ids, fix: command, result, reason: [reason, steps].filter(Boolean).join(" | "), files: backup?.entries.map((e) => e.path) ?? [], backup: backup?.dir ?? "" },
    ctx.secrets,
  );
}

// What applyAction needs, for the playbooks: as the runner's, the service's identity and environment are read when a
// step runs (after earlier steps changed the unit), and waiting re-checks with the validator's own checks.
export async function playbookApplyEnv(config: Config, mk: () => Transport, t: Transport, backup: BackupFolder, ctx: ProbeContext, fix: string): Promise<ApplyEnv> {
  const env = await unitEnv(ctx).catch(() => ({ env: {} as Record<string, string> }));
  const url = readDatabaseUrl(env.env.DATABASE_URL);
  return {
    t,
    backup,
    fix,
    psql: psqlTarget(url.kind === "postgres" ? url.target : undefined),
    timeoutMs: config.timeouts.commandMs,
    async asService(argv) {
      const now = await freshContext(config, t);
      const unit = await serviceUnit(now);
      const { env: vars } = await unitEnv(now);
      const user = unit.user || "root";
      const cwd = unit.workingDirectory || `${config.projectDir}/backend`;
      const base = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8" };
      return { argv: ["setpriv", `--reuid=${user}`, `--regid=${unit.group || user}`, "--init-groups", "--", ...argv], cwd, env: { ...base, DJANGO_SETTINGS_MODULE: config.settingsModule, ...vars, PYTHONDONTWRITEBYTECODE: "1" } };
    },
    async waitGreen(ids, seconds) {
      const until = Date.now() + seconds * 1000;
      for (;;) {
        const out = await recheck(config, mk, ids);
        const red = ids.filter((id) => isRed(out.get(id)));
        if (!red.length || Date.now() >= until) return red;
        await new Promise((r) => setTimeout(r, 500));
      }
    },
  };
}
