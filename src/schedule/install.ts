import { existsSync } from "node:fs";
import { userInfo } from "node:os";
import path from "node:path";
import { type ApplyEnv, applyAction, type Undo } from "../remediation/actions.ts";
import { audit } from "../remediation/audit.ts";
import { BackupFolder, must } from "../remediation/backup.ts";
import { EXIT, RemediateError } from "../remediation/errors.ts";
import type { Action } from "../remediation/fix.ts";
import { takeLock } from "../remediation/lock.ts";
import { inspectPaths } from "../remediation/pinned.ts";
import type { Transport } from "../transport/types.ts";
import { CHECKOUT, checkoutProblem } from "./checkout.ts";
import { readRecord, SCHEDULE_DIR, writeRecord } from "./record.ts";
import { FAILURE_SCRIPT, failureScript, failureService, type GateSpec, gateService, gateTimer, UNIT_DIR, UNITS } from "./units.ts";

export type InstallOptions = { every: string; onFailure?: string; dryRun: boolean; say: (l: string) => void; env?: NodeJS.ProcessEnv; cwd?: string };
const FIX = "schedule install";
const WANTS = `${UNIT_DIR}/timers.target.wants`;

// The environment the gate keeps from the install: DEPLOY_* and DDV_TEXTFILE_DIR as given, and the config file
// this directory would have used (the gate runs from the checkout, where another deploy.config.json may lie).
export function keptEnv(env: NodeJS.ProcessEnv, cwd: string): Record<string, string> {
  const kept = Object.fromEntries(Object.entries(env).filter(([k, v]) => v !== undefined && (k.startsWith("DEPLOY_") || k === "DDV_TEXTFILE_DIR"))) as Record<
    string,
    string
  >;
  if (kept.DEPLOY_CONFIG) kept.DEPLOY_CONFIG = path.resolve(cwd, kept.DEPLOY_CONFIG);
  else if (existsSync(path.join(cwd, "deploy.config.json"))) kept.DEPLOY_CONFIG = path.join(cwd, "deploy.config.json");
  return kept;
}

// The files install writes, in order, with their modes (the failure script is root's alone).
export function unitFiles(g: GateSpec): Array<{ path: string; content: string; mode: number }> {
  const files = [
    { path: `${UNIT_DIR}/${UNITS.service}`, content: gateService(g), mode: 0o644 },
    { path: `${UNIT_DIR}/${UNITS.timer}`, content: gateTimer(g), mode: 0o644 },
  ];
  if (g.onFailure)
    files.push(
      { path: FAILURE_SCRIPT, content: failureScript(g.onFailure), mode: 0o700 },
      { path: `${UNIT_DIR}/${UNITS.failure}`, content: failureService(), mode: 0o644 },
    );
  return files;
}

// `schedule install`: writes the units through remediation's backed-up writing (a manifest records each path before
// it is created), enables and starts the timer, and records the install. A failing step undoes the earlier ones.
export async function install(t: Transport, o: InstallOptions): Promise<number> {
  const g: GateSpec = {
    checkout: CHECKOUT,
    node: process.execPath,
    every: o.every,
    onFailure: o.onFailure,
    env: keptEnv(o.env ?? process.env, o.cwd ?? process.cwd()),
  };
  const files = unitFiles(g);
  const bad = checkoutProblem(g.checkout, g.node);
  if (bad) throw new RemediateError(bad, EXIT.config);
  const was = await readRecord(t);
  if (was) throw new RemediateError(`already installed (${was.installedAt}, every ${was.every}): run uninstall first`, EXIT.locked);
  for (const [p, i] of await inspectPaths(t, [...files.map((f) => f.path), `${WANTS}/${UNITS.timer}`]))
    if (i.kind !== "missing") throw new RemediateError(`refused: ${p} exists and was not written by install (no install is recorded)`, EXIT.locked);
  const wants = (await inspectPaths(t, [WANTS])).get(WANTS);
  const actions: Action[] = [
    ...files.map((f): Action => ({ kind: "write", path: f.path, content: f.content, mode: f.mode, owner: "root", group: "root" })),
    // systemctl enable links the timer from timers.target.wants; made here when missing, so uninstall removes it.
    ...(wants?.kind === "missing" ? [{ kind: "mkdir", path: WANTS, mode: 0o755, owner: "root", group: "root" } as Action] : []),
    { kind: "daemon-reload" },
    { kind: "unit", unit: UNITS.timer, verb: "enable" },
    { kind: "unit", unit: UNITS.timer, verb: "start" },
  ];
  // The failure script is not shown: the command may carry a token (the operator just typed it).
  for (const f of files) o.say(`--- ${f.path}\n${f.path === FAILURE_SCRIPT ? "(the --on-failure command, mode 0700)\n" : f.content}`);
  o.say(`plan: ${actions.map(describe).join("; ")}`);
  if (o.dryRun) return EXIT.ok;
  const release = await takeLock(t, { pid: process.pid, user: userInfo().username, report: FIX });
  try {
    return await apply(t, g, actions, o.say);
  } finally {
    await release();
  }
}

async function apply(t: Transport, g: GateSpec, actions: Action[], say: (l: string) => void): Promise<number> {
  const backup = await BackupFolder.create(t);
  // The failure script's folder, root's alone (like remediation's: kept after uninstall).
  await must(t, ["install", "-d", "-m", "700", SCHEDULE_DIR]);
  await backup.declare(FIX, { files: [...actions.flatMap((a) => ("path" in a ? [a.path] : []))], units: [UNITS.timer] });
  const unused = () => Promise.reject(new Error("not used by schedule install"));
  const env: ApplyEnv = { t, backup, fix: FIX, psql: undefined, timeoutMs: 30_000, asService: unused, waitGreen: unused };
  const undo: Undo[] = [];
  const line = (result: string, reason?: string) =>
    audit(
      t,
      {
        report: FIX,
        fix: FIX,
        result,
        reason,
        files: backup.entries.map((e) => e.path),
        backup: backup.dir,
      },
      [],
    );
  try {
    for (const a of actions) await applyAction(a, env, (u) => undo.push(u));
    await writeRecord(t, {
      installedAt: new Date().toISOString(),
      backup: backup.dir,
      units: Object.values(UNITS),
      every: g.every,
      onFailure: !!g.onFailure,
      checkout: g.checkout,
      node: g.node,
    });
  } catch (err) {
    for (const u of undo.reverse()) await u.run().catch(() => {});
    await t.run(["systemctl", "daemon-reload"]);
    await line("rolled back", (err as Error).message);
    say(`install failed and was rolled back: ${(err as Error).message}`);
    return EXIT.partial;
  }
  await line("applied");
  say(`installed: ${UNITS.timer} runs the smoke gate every ${g.every} from ${g.checkout}; backup and manifest in ${backup.dir}`);
  return EXIT.ok;
}

function describe(a: Action): string {
  if (a.kind === "write") return `write ${a.path}`;
  if (a.kind === "mkdir") return `mkdir ${a.path}`;
  if (a.kind === "unit") return `systemctl ${a.verb} ${a.unit}`;
  return a.kind === "daemon-reload" ? "systemctl daemon-reload" : a.kind;
}
