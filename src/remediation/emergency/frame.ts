import type { ProbeContext } from "../../probes/context.ts";
import type { Transport } from "../../transport/types.ts";
import type { ApplyEnv } from "../actions.ts";
import { BackupFolder } from "../backup.ts";
import type { EmergencyOptions } from "../emergency.ts";
import { EXIT } from "../errors.ts";
import { freshContext } from "../recheck.ts";
import { auditPlaybook, lockFor, playbookApplyEnv } from "./session.ts";
import { StepLog } from "./steps.ts";

// What a playbook's apply phase works with, under the host's lock.
export type Session = {
  ctx: ProbeContext;
  t: Transport;
  log: StepLog;
  // The playbook's backup folder, made on the first call: the audit line names it even when a later step throws.
  backup: () => Promise<BackupFolder>;
  // What applyAction needs, in the playbook's name, backing up into backup().
  applyEnv: () => Promise<ApplyEnv>;
  // Why the playbook is not green, as far as it knows: audited as it stands, also when a step throws.
  reason?: string;
};

// How the apply phase ended: green (exit 0) or not (exit 1), the audit's result word and the final line.
export type Outcome = { green: boolean; result: string; message: string };

// The apply phase: runs the playbook's steps under the lock.
export type Apply = (s: Session) => Promise<Outcome>;

// The plan phase: reads facts and shows the plan; an exit code ends the playbook there (dry run, declined, refused).
export type Plan = (ctx: ProbeContext, t: Transport) => Promise<number | Apply>;

// The playbook as the lock and the audit name it: its command, the check ids of its audit line, and the result word
// audited when a step throws.
export type Frame = { command: string; ids: string[]; unfinished: string };

// Runs one emergency playbook: its plan, then (unless that ended it) its apply phase, locked and audited.
export async function runPlaybook(o: EmergencyOptions, frame: Frame, plan: Plan): Promise<number> {
  const t = o.transport();
  const ctx = await freshContext(o.config, t);
  try {
    const apply = await plan(ctx, t);
    return typeof apply === "number" ? apply : await applyLocked(o, frame, ctx, t, apply);
  } finally {
    await ctx.close();
  }
}

// The apply phase between the lock and its release; the audit line is written whatever happens, then the final line.
async function applyLocked(o: EmergencyOptions, frame: Frame, ctx: ProbeContext, t: Transport, apply: Apply): Promise<number> {
  // Taken only now: a dry run or a declined plan neither waits for another remediation nor blocks one.
  const release = await lockFor(t, frame.command);
  let folder: BackupFolder | undefined;
  const s: Session = {
    ctx,
    t,
    log: new StepLog(o.say, () => ctx.secrets),
    backup: async () => (folder ??= await BackupFolder.create(t)),
    applyEnv: async () => playbookApplyEnv(o.config, o.transport, t, await s.backup(), ctx, frame.command),
  };
  let out: Outcome | undefined;
  try {
    out = await apply(s);
  } finally {
    await auditPlaybook(ctx, frame.command, frame.ids, out?.result ?? frame.unfinished, s.log, folder, s.reason).catch((err: unknown) =>
      o.say(`  could not write the audit log: ${(err as Error).message}`),
    );
    await release();
  }
  o.say(out.message);
  return out.green ? EXIT.ok : EXIT.partial;
}
