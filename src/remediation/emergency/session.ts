import { userInfo } from "node:os";
import type { Config } from "../../config/schema.ts";
import type { ProbeContext } from "../../probes/context.ts";
import { hostIdentity } from "../../runner/identity.ts";
import type { Transport } from "../../transport/types.ts";
import type { ApplyEnv } from "../actions.ts";
import { makeApplyEnv } from "../apply-env.ts";
import { audit } from "../audit.ts";
import type { BackupFolder } from "../backup.ts";
import { takeLock } from "../lock.ts";
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
    {
      host,
      report: command,
      ids,
      fix: command,
      result,
      reason: [reason, steps].filter(Boolean).join(" | "),
      files: backup?.entries.map((e) => e.path) ?? [],
      backup: backup?.dir ?? "",
    },
    ctx.secrets,
  );
}

// What applyAction needs, for the playbooks: the runner's, in the playbook's name.
export async function playbookApplyEnv(
  config: Config,
  mk: () => Transport,
  t: Transport,
  backup: BackupFolder,
  ctx: ProbeContext,
  fix: string,
): Promise<ApplyEnv> {
  return { ...(await makeApplyEnv(config, mk, t, backup, ctx)), fix };
}
