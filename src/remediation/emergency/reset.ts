import type { ProbeContext } from "../../probes/context.ts";
import { serviceUnit, unitName } from "../../probes/systemd.ts";
import type { Transport } from "../../transport/types.ts";
import { applyAction, type Undo } from "../actions.ts";
import { describeAction } from "../describe.ts";
import { EXIT, RemediateError } from "../errors.ts";
import type { Action } from "../fix.ts";
import { gunicornArgv } from "../../probes/service-facts.ts";
import { SMOKE_IDS, isRed, recheck } from "../recheck.ts";
import type { EmergencyOptions } from "../emergency.ts";
import { baselineActions } from "./baseline.ts";
import { type Outcome, runPlaybook, type Session } from "./frame.ts";
import type { StepLog } from "./steps.ts";
import { cgroupOfUnit } from "./cgroup.ts";
import { killLeftovers, showProp } from "./unit-steps.ts";
import { playbookVerifies, waitStep } from "./wait.ts";
import { gatherUnitFacts } from "./unit-facts.ts";
import { NEUTRAL_DROPIN, renderUnit } from "./unit-file.ts";
import { explainChanges } from "./unit-why.ts";
import { explainSocket, type SocketPlan } from "./socket-unit.ts";

// Drop-ins an operator or a tool put in /etc or /run override the rendered unit: they are emptied (backed up first).
const OWN_DROPINS = /^\/(etc|run)\/systemd\/system\//;

// A step's short name for the progress lines.
function stepName(a: Action): string {
  switch (a.kind) {
    case "write":
      return `write ${a.path}`;
    case "validate":
      return `check ${a.show}`;
    case "restart-until-green":
      return `restart ${a.unit} until ${a.ids.join(", ")} pass`;
    case "unit":
      return `systemctl ${a.verb} ${a.unit}`;
    case "daemon-reload":
      return "systemctl daemon-reload";
    case "chmod":
      return `chmod ${a.mode.toString(8)} ${a.path}`;
    case "chown":
      return `chown ${a.owner}:${a.group} ${a.path}`;
    case "mkdir":
      return `mkdir ${a.path}`;
    default:
      return a.kind;
  }
}

// The whole reset as actions: permissions baseline, the unit, emptied drop-ins, reload, verify, enable, pre-flight, restart.
async function planReset(o: EmergencyOptions, t: Transport, ctx: ProbeContext) {
  const { config } = o;
  const id = unitName(config.service);
  const unit = await serviceUnit(ctx);
  const facts = await gatherUnitFacts(ctx, unit.loadState === "loaded" ? unit : undefined);
  const path = `/etc/systemd/system/${id}`;
  const link = await t.readLink(path);
  if (link)
    throw new RemediateError(`emergency-reset: ${path} is a symlink to ${link}; it writes a real file there: replace the link by hand first`, EXIT.partial);
  const owner = await t.stat(config.projectDir);
  const baseline = await baselineActions(t, facts, { uid: owner?.uid ?? -1, gid: owner?.gid ?? -1 });
  const actions: Action[] = baseline.actions;
  const notes: string[] = [...baseline.notes, ...facts.kept.map((k) => `kept from the deployment: ${k}`)];
  if (unit.loadState === "loaded" && unit.execStarts.some((l) => !gunicornArgv(l.argv)))
    notes.push("ExecStart= lines that do not run Gunicorn are not carried over (the original is in the backup)");
  const content = renderUnit(facts);
  const current = (await t.stat(path)) ? await t.readFile(path) : undefined;
  if (current !== content) actions.push({ kind: "write", path, content, mode: 0o644, owner: "root", group: "root" });
  // Line by line, why: every directive the rendered unit sets otherwise than the current one.
  if (current !== undefined && current !== content) notes.push(...explainChanges(current, content).map((w) => `why ${w}`));
  const sp = facts.socketPlan;
  if (sp?.content) {
    const to = await t.readLink(sp.file);
    if (to)
      throw new RemediateError(
        `emergency-reset: ${sp.file} is a symlink to ${to} (masked?); it writes a real file there: replace the link by hand first`,
        EXIT.partial,
      );
    actions.push({ kind: "write", path: sp.file, content: sp.content, mode: 0o644, owner: "root", group: "root" });
    notes.push(...sp.why.map((w) => `socket: ${w}`), ...explainSocket(sp).map((w) => `why ${w}`));
  }
  for (const d of [...unit.dropIns, ...(sp?.content ? sp.dropIns : [])]) {
    if (!OWN_DROPINS.test(d)) {
      notes.push(`drop-in ${d} belongs to a package: left as it is`);
      continue;
    }
    if ((await t.readFile(d).catch(() => "")) !== NEUTRAL_DROPIN)
      actions.push({ kind: "write", path: d, content: NEUTRAL_DROPIN, mode: 0o644, owner: "root", group: "root" });
  }
  const python = `${config.venvDir}/bin/python`;
  const wsgi = facts.wsgi.split(":")[0] as string;
  actions.push(
    { kind: "daemon-reload" },
    { kind: "validate", argv: ["systemd-analyze", "verify", id], show: `systemd-analyze verify ${id}` },
    // Socket activation: the socket starts the service at boot, as the deployment had it.
    { kind: "unit", unit: facts.socket ?? id, verb: "enable" },
    {
      kind: "validate",
      argv: [python, "-c", "import importlib, sys; importlib.import_module(sys.argv[1])", wsgi],
      show: `${python} imports ${wsgi}`,
      asService: true,
    },
    { kind: "validate", argv: [python, "manage.py", "check"], show: `${python} manage.py check`, asService: true },
    // A rewritten socket listens anew only once restarted (which stops the service that Requires= it).
    ...(facts.socket ? [{ kind: "unit" as const, unit: facts.socket, verb: sp?.content ? ("restart" as const) : ("start" as const) }] : []),
    { kind: "unit", unit: id, verb: "start" },
  );
  return {
    id,
    unit,
    socket: sp?.content ? sp : undefined,
    actions,
    notes,
    changes: actions.some((a) => a.kind === "write" || a.kind === "chmod" || a.kind === "chown" || a.kind === "mkdir"),
  };
}

// emergency-reset: render the unit and a permissions baseline from the config, back up what they replace, restart,
// verify with the smoke checks, and roll everything back when the service does not come up green.
export async function emergencyReset(o: EmergencyOptions): Promise<number> {
  const { config, say } = o;
  const verifies = playbookVerifies(config);
  return runPlaybook(o, { command: "emergency-reset", ids: SMOKE_IDS, unfinished: "failed" }, async (ctx, t) => {
    const plan = await planReset(o, t, ctx);
    const { id, unit, actions, notes } = plan;
    say(`emergency-reset of ${id} (${unit.loadState}, ${unit.activeState}/${unit.subState}): the plan`);
    for (const [i, a] of actions.entries()) {
      if (a.kind === "unit" && a.verb === "start" && a.unit === id)
        say(`  ${i + 1}. systemctl stop ${id}, then kill what is left in its own cgroup (nothing outside it)`);
      say(`  ${i + 1}. ${await describeAction(t, a, ctx.secrets, config.secrets)}`);
    }
    say(
      `  ${actions.length + 1}. wait up to ${config.remediation.restartWaitSeconds} s until ` +
        `${verifies.join(", ")} pass (one start: a slow boot is not restarted), else roll back`,
    );
    for (const n of notes) say(`  note: ${n}`);
    if (o.dryRun) {
      say("dry run: nothing was changed");
      return EXIT.ok;
    }
    if (!(await o.confirm())) {
      say("not applied: nothing was changed");
      return EXIT.partial;
    }
    return (session) => reset(o, session, plan, verifies);
  });
}

// The reset's steps, under the lock: the planned actions, the wait, the smoke checks; a rollback when one fails.
async function reset(o: EmergencyOptions, s: Session, plan: ResetPlan, verifies: string[]): Promise<Outcome> {
  const { config, say } = o;
  const { t, log } = s;
  const { id, unit, socket, actions } = plan;
  const wasActive = ["active", "activating", "reloading"].includes(unit.activeState);
  const before = await recheck(config, o.transport, SMOKE_IDS);
  const backup = await s.backup();
  await backup.declare("emergency-reset", { files: [...new Set(actions.flatMap((a) => ("path" in a ? [a.path] : [])))], units: [id] });
  say(`applying (backups in ${backup.dir}):`);
  const env = await s.applyEnv();
  const undo: Undo[] = [];
  let failed = false;
  for (const a of actions) {
    if (a.kind === "unit" && a.verb === "start" && a.unit === id) {
      // A clean start: the old processes stopped and nothing of theirs left holding the port.
      await log.run(`stop ${id}`, async () => void (await t.run(["systemctl", "stop", "--", id], { timeoutMs: config.timeouts.commandMs * 6 })));
      const cgroup = (await showProp(t, id, "ControlGroup")) || cgroupOfUnit(await showProp(t, id, "Slice"), id);
      await log.run(`kill what is left in ${cgroup}`, () => killLeftovers(t, id, cgroup));
    }
    const rec = await log.run(stepName(a), async () => {
      await applyAction(a, env, (u) => undo.push(u));
    });
    if (rec.result === "failed") {
      failed = true;
      s.reason = `${rec.name}: ${rec.detail}`;
      break;
    }
  }
  if (!failed) {
    const rec = await waitStep(log, config, o.transport, verifies);
    if (rec.result === "failed") {
      failed = true;
      s.reason = `${rec.name}: ${rec.detail}`;
    }
  }
  if (!failed) {
    let regressed: string[] = [];
    await log.run("smoke checks after the reset", async () => {
      const after = await recheck(config, o.transport, SMOKE_IDS);
      regressed = SMOKE_IDS.filter((i) => !isRed(before.get(i)) && isRed(after.get(i)));
      const stillRed = SMOKE_IDS.filter((i) => isRed(after.get(i)));
      if (regressed.length) throw new Error(`turned red: ${regressed.map((i) => `${i} (${after.get(i)?.observed.slice(0, 160)})`).join("; ")}`);
      return stillRed.length ? `${stillRed.join(", ")} were red before and still are (not the unit's doing)` : `all ${SMOKE_IDS.length} pass`;
    });
    if (regressed.length) {
      failed = true;
      s.reason = `the reset turned ${regressed.join(", ")} red`;
    }
  }
  if (!failed) return { green: true, result: "verified", message: `🔄 emergency reset: ${id} is green; what it replaced is in ${backup.dir}` };
  say("rolling back:");
  await rollBack(t, id, undo, wasActive, log, config.timeouts.commandMs, socket);
  const now = await recheck(config, o.transport, verifies);
  say(`  after the rollback: ${verifies.filter((i) => isRed(now.get(i))).join(", ") || "no service smoke check"} red`);
  return { green: false, result: "rolled back", message: `emergency reset ROLLED BACK: ${s.reason}; files restored from ${backup.dir}` };
}

type ResetPlan = Awaited<ReturnType<typeof planReset>>;

// Restores every file (newest change first), reloads systemd, and puts the service back as it was (running or not).
async function rollBack(t: Transport, id: string, undo: Undo[], wasActive: boolean, log: StepLog, commandMs: number, socket?: SocketPlan) {
  for (const u of [...undo].reverse()) await log.run(u.what, () => u.run());
  await log.run("systemctl daemon-reload", async () => void (await t.run(["systemctl", "daemon-reload"])));
  // A rewritten socket listens again as restored (a socket that was gone stays stopped).
  if (socket)
    await log.run(`${socket.wasActive ? "restart" : "stop"} ${socket.id} as it was`, async () => {
      const r = await t.run(["systemctl", socket.wasActive ? "restart" : "stop", "--", socket.id], { timeoutMs: commandMs * 3 });
      return `exit ${r.exitCode}`;
    });
  await log.run(wasActive ? `restart ${id} as it was` : `stop ${id} (it was not running)`, async () => {
    await t.run(["systemctl", "reset-failed", "--", id]);
    const r = await t.run(["systemctl", wasActive ? "restart" : "stop", "--", id], { timeoutMs: commandMs * 3 });
    return `exit ${r.exitCode}`;
  });
}
