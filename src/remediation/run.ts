import { userInfo } from "node:os";
import path from "node:path";
import { checkById } from "../checks/index.ts";
import type { Config } from "../config/schema.ts";
import { redact } from "../probes/redact.ts";
import { serviceUnit, unitName } from "../probes/systemd.ts";
import type { Outcome } from "../runner/evaluate.ts";
import { catalogueVersion, hostIdentity } from "../runner/identity.ts";
import type { Transport, TransportError } from "../transport/types.ts";
import { applyAction, type Undo } from "./actions.ts";
import { makeApplyEnv } from "./apply-env.ts";
import { remediationResults, resultsFolderOf, writeRemediationResults } from "./allure.ts";
import { reportsDir } from "../report/paths.ts";
import { audit } from "./audit.ts";
import { BackupFolder } from "./backup.ts";
import { describeAction, showPath } from "./describe.ts";
import { takeLock } from "./lock.ts";
import { buildPlan, redOf, replanStep, stepFiles, targetIds, type Step } from "./plan.ts";
import { SMOKE_IDS, freshContext, isRed, recheck } from "./recheck.ts";
import { checkReport } from "./freshness.ts";
import { type Report, readReport } from "./report.ts";
import { EXIT, RemediateError } from "./errors.ts";

export type RemediateOptions = {
  // A report's path, or one host's part of a fleet report.
  report: string | Report;
  config: Config;
  dryRun: boolean;
  forceStale: boolean;
  transport: () => Transport;
  say: (line: string) => void;
  // Asked before applying (the CLI prompts on a terminal, or has --yes); false stops with nothing changed.
  confirm: () => Promise<boolean>;
};

type Done = { step: Step; undo: Undo[]; error?: string; result?: "verified" | "rolled back" | "failed"; start: number; stop: number };

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

// fix → re-check → roll back: the whole remediation of one host from one report; resolves the exit code.
export async function remediate(o: RemediateOptions): Promise<number> {
  const { config, say } = o;
  const report = typeof o.report === "string" ? readReport(o.report) : o.report;
  const t = o.transport();
  const ctx = await freshContext(config, t);
  const secrets = () => ctx.secrets;
  const identity = await hostIdentity(ctx);
  checkReport(report, identity, catalogueVersion(), config.remediation.maxReportAgeMinutes, o.forceStale);
  const { targets, couldNotCheck } = targetIds(report);
  const run = report.runId ? `run ${report.runId}, ` : "";
  say(`report ${report.file}: ${run}${report.checks.length} checks from ${identity.hostname}, ${targets.length} failing: ${targets.join(", ") || "none"}`);
  for (const id of couldNotCheck) say(`  ${id} could not be checked in that run: not a fix target (make it checkable, then validate again)`);
  if (!targets.length) return couldNotCheck.length ? EXIT.partial : EXIT.ok;
  await assertDeployedHere(ctx, identity.hostname);

  const release = o.dryRun ? async () => {} : await takeLock(t, { pid: process.pid, user: userInfo().username, report: report.file });
  try {
    const scope = [...new Set([...targets, ...SMOKE_IDS])];
    let t0 = performance.now();
    const baseline = await recheck(config, o.transport, scope);
    say(`re-checked ${scope.length} checks before acting (${secs(performance.now() - t0)})`);
    const red = new Set(targets.filter((id) => isRed(baseline.get(id))));
    for (const id of targets.filter((x) => !red.has(x))) {
      const b = baseline.get(id);
      // Blocked now: its own fix still applies (a stopped service is restarted), and so does its blocker's.
      if (b?.status === "skip" && b.blockedBy) {
        red.add(id).add(b.blockedBy);
        say(`  ${id} is blocked by ${b.blockedBy} now: both are targets`);
      } else say(`  ${id} ${b?.status === "pass" ? "passes" : `is skipped (${b?.observed})`} now: nothing to do`);
    }
    const { steps, manual } = await buildPlan([...red], baseline, { ctx, config, transport: t, addSecret: (v) => ctx.secrets.push(v) });

    const described = new Map<Step, string[]>();
    say(`\nplan (${steps.length} step${steps.length === 1 ? "" : "s"}${manual.length ? `, ${manual.length} manual` : ""}):`);
    for (const [i, s] of steps.entries()) {
      say(`  ${i + 1}. ${s.fix.title} [${s.fix.id}]${s.ids.length ? ` cures ${s.ids.join(", ")}` : ""}`);
      const lines = await Promise.all(s.actions.map((a) => describeAction(t, a, secrets(), config.secrets)));
      described.set(s, lines);
      for (const l of lines) say(`     - ${l}`);
      for (const n of s.notes) say(`     note: ${showPath(n)}`);
    }
    for (const m of manual) say(`  manual: ${m.id} ${checkById(m.id).title}: ${showPath(m.why)}`);
    if (o.dryRun || !steps.length) {
      say(o.dryRun ? "\ndry run: nothing was changed" : "\nnothing to apply automatically");
      // A dry run is "ok" when the plan covers every finding; with nothing to apply, only a green host is.
      const open = o.dryRun ? manual.length > 0 : manual.length > 0 || scope.some((id) => isRed(baseline.get(id)));
      return open ? EXIT.partial : EXIT.ok;
    }
    if (!(await o.confirm())) {
      say("not applied: nothing was changed");
      return EXIT.partial;
    }

    const backup = await BackupFolder.create(t);
    say(`\napplying (backups in ${backup.dir}):`);
    const applyEnv = await makeApplyEnv(config, o.transport, t, backup, ctx);
    const done: Done[] = [];
    const auditLine = (d: Done, result: string) =>
      audit(
        t,
        {
          host: identity.hostname,
          report: report.file,
          ids: d.step.ids,
          fix: d.step.fix.id,
          result,
          reason: d.error,
          files: backup.entries.filter((e) => e.fix === d.step.fix.id).map((e) => e.path),
          backup: backup.dir,
        },
        secrets(),
      );
    // Ctrl-C or a TERM mid-apply: the step under way is rolled back and nothing further starts (a SIGKILL or power
    // loss leaves the manifest, written before each change: `remediate rollback latest`).
    let interrupted: string | undefined;
    const onSignal = (sig: NodeJS.Signals) => {
      if (!interrupted) say(`\n${sig}: the step under way is rolled back, then remediate stops`);
      interrupted ??= sig;
    };
    process.on("SIGINT", onSignal).on("SIGTERM", onSignal);
    try {
      for (const [i, planned] of steps.entries()) {
        if (interrupted) break;
        t0 = performance.now();
        const d: Done = { step: planned, undo: [], start: Date.now(), stop: 0 };
        done.push(d);
        try {
          await backup.declare(planned.fix.id, planned.touches);
          await auditLine(d, "started");
          // A file an earlier step changed: this step is planned again on the file as that step left it.
          const before = done.filter((x) => x !== d && !x.result);
          const shared = stepFiles(planned).filter((f) => before.some((x) => stepFiles(x.step).includes(f)));
          if (shared.length) {
            const fresh = await freshContext(config, o.transport());
            try {
              const again = await replanStep(planned, { ctx: fresh, config, transport: t, addSecret: (v) => ctx.secrets.push(v) });
              if ("why" in again) throw new Error(`planned again on ${shared.join(", ")} as the steps before left it: ${again.why}`);
              d.step = again;
              // What is applied now is what the operator reads, here and in the step's Allure result.
              const lines = await Promise.all(again.actions.map((a) => describeAction(t, a, secrets(), config.secrets)));
              described.set(again, lines);
              say(`  [${i + 1}/${steps.length}] ${planned.fix.id}: planned again on ${shared.join(", ")} as the steps before left it:`);
              for (const l of lines) say(`     - ${l}`);
            } finally {
              await fresh.close();
            }
          }
          const step = d.step;
          for (const a of step.actions) {
            if (interrupted) throw new Error(`interrupted by ${interrupted}`);
            await applyAction(a, { ...applyEnv, fix: step.fix.id }, (u) => d.undo.push(u));
          }
          // A signal during the step's last action: it was still the step under way, so it is rolled back too.
          if (interrupted) throw new Error(`interrupted by ${interrupted}`);
          d.stop = Date.now();
          say(`  [${i + 1}/${steps.length}] ${step.fix.id}: applied (${secs(performance.now() - t0)})`);
        } catch (err) {
          d.stop = Date.now();
          d.error = redact((err as Error).message, secrets());
          say(`  [${i + 1}/${steps.length}] ${planned.fix.id}: FAILED (${secs(performance.now() - t0)}): ${d.error}`);
          await undoWith(d, done, say, secrets(), t);
        }
      }
    } finally {
      process.off("SIGINT", onSignal).off("SIGTERM", onSignal);
    }
    if (interrupted) {
      for (const d of done) await auditLine(d, d.result ?? "applied, not verified (interrupted)");
      const kept = done.filter((d) => !d.result).map((d) => d.step.fix.id);
      const rollback = `npx tsx remediate rollback ${backup.dir.split("/").pop()}`;
      say(`interrupted by ${interrupted}: ${kept.length ? `kept, not verified: ${kept.join(", ")}; undo them with \`${rollback}\`` : "nothing was kept"}`);
      return EXIT.interrupted;
    }

    t0 = performance.now();
    let after = await settled(config, o.transport, scope, baseline);
    say(`re-checked ${scope.length} checks (${secs(performance.now() - t0)})`);
    // A check green before and red now, confirmed by a second look (a load test can flicker on a busy host).
    // Performance checks judge the machine's load as much as our change: they are reported, never blamed.
    const regressed = async () => {
      const suspects = scope.filter((id) => !isRed(baseline.get(id)) && isRed(after.get(id)));
      if (!suspects.length) return [];
      const again = await recheck(config, o.transport, suspects);
      for (const id of suspects) after.set(id, again.get(id) as Outcome);
      return suspects.filter((id) => isRed(again.get(id)) && checkById(id).suite !== "performance");
    };
    // A step whose own checks stay red is undone; then, while a check that passed before is red, the newest steps go.
    for (const d of [...done].reverse()) {
      if (d.error || d.result) continue;
      const still = redOf(d.step.ids, after);
      if (!still.length) continue;
      d.error = `still failing after the fix: ${still.map((id) => `${id} (${redact(after.get(id)?.observed ?? "", secrets()).slice(0, 160)})`).join("; ")}`;
      await undoWith(d, done, say, secrets(), t);
    }
    if (done.some((d) => d.result === "rolled back")) after = await settle(config, o.transport, t, scope, done, say);
    for (const d of [...done].reverse()) {
      const reg = await regressed();
      if (!reg.length) break;
      if (d.result || !d.undo.some((u) => !u.irreversible)) continue;
      d.error = `turned ${reg.join(", ")} red`;
      await undoWith(d, done, say, secrets(), t);
      after = await settle(config, o.transport, t, scope, done, say);
    }
    for (const d of done) d.result ??= d.error ? "failed" : "verified";

    say("\nresult:");
    for (const d of done) {
      say(
        `  ${d.result === "verified" ? "ok  " : "FAIL"} ${d.step.fix.id}${d.step.ids.length ? ` (${d.step.ids.join(", ")})` : ""}: ` +
          `${d.result}${d.error ? `: ${d.error}` : ""}`,
      );
      await auditLine(d, d.result as string);
    }
    const stillRed = scope.filter((id) => isRed(after.get(id)));
    // A manual step whose check passes now (another step cured it) is done, not a todo.
    const todo = manual.filter((m) => isRed(after.get(m.id)));
    for (const m of manual) say(todo.includes(m) ? `  todo ${m.id}: ${m.why}` : `  ${m.id} passes now (cured by the steps above): nothing left to do`);
    say(`  ${stillRed.length ? `still red: ${stillRed.join(", ")}` : "every re-checked check passes"}; backups and manifest in ${backup.dir}`);
    const reported = new Map(report.checks.map((c) => [c.id, c]));
    const record = { host: identity.hostname, report: report.file, backup: backup.dir, manual, reported, before: baseline, after };
    const steps_ = done.map((d) => ({
      fix: d.step.fix.id,
      title: d.step.fix.title,
      ids: d.step.ids,
      actions: described.get(d.step) ?? [],
      start: d.start,
      stop: d.stop || d.start,
      result: d.result as string,
      reason: d.error,
    }));
    // A fleet's hosts each keep their own folder (remediateFleet empties the parent once, before the first host).
    const into = path.join(reportsDir(), "remediation-results", ...(report.target ? [resultsFolderOf(report.target)] : []));
    const written = writeRemediationResults(into, remediationResults({ ...record, steps: steps_ }, secrets()));
    if (written) say(`  Allure results of this remediation: ${written} (npm run report)`);
    return done.every((d) => d.result === "verified") && !todo.length && !stillRed.length ? EXIT.ok : EXIT.partial;
  } finally {
    await release();
    await ctx.close();
  }
}

// Refuses a host where the deployment is not: its unit unknown to systemd and nothing of it running (a unit file
// deleted under a running app is still this deployment). Planning there would start or enable another machine's services.
// `codeWillDo`: emergency-reset rebuilds a deleted unit, so the project's code (manage.py under projectDir) is proof
// enough that the deployment is here.
export async function assertDeployedHere(ctx: Awaited<ReturnType<typeof freshContext>>, host: string, opts: { codeWillDo?: boolean } = {}) {
  const unit = unitName(ctx.config.service);
  const u = await serviceUnit(ctx).catch((err: unknown) => {
    const e = err as TransportError;
    const why =
      e.code === "ENOSYSTEMD" ? `no systemd on ${host} (PID 1 is not systemd)` : `cannot ask systemd about ${unit} on ${host} (${e.message.split("\n")[0]})`;
    throw new RemediateError(`${why}: remediation needs the host's systemd; nothing was planned`, EXIT.wrongHost);
  });
  if (u.loadState === "loaded" || u.activeState === "active" || u.activeState === "activating") return;
  const dir = ctx.config.projectDir;
  if (opts.codeWillDo && ((await ctx.transport.stat(`${dir}/manage.py`))?.isFile || (await ctx.transport.stat(`${dir}/backend/manage.py`))?.isFile)) return;
  const what = u.loadState === "not-found" ? `no unit ${unit} on ${host}` : `${unit} is ${u.loadState || "unknown"} and not running on ${host}`;
  throw new RemediateError(
    `${what}: the deployment is not on this host (set DEPLOY_SERVICE or the config's service to its unit); nothing was planned`,
    EXIT.wrongHost,
  );
}

// Undoes `d` and every other kept step that changed one of its files (newest first): a file's backup is its state
// before the run's first change to it, so restoring it takes back every step that changed it.
async function undoWith(d: Done, done: Done[], say: (l: string) => void, secrets: string[], t: Transport) {
  // A step that changed nothing (it failed before its first action) restores nothing, so it takes no other step back.
  if (!d.undo.length) return undoStep(d, say, secrets, t);
  const group = new Set([d]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const x of done)
      if (!group.has(x) && !x.result && [...group].some((g) => stepFiles(g.step).some((f) => stepFiles(x.step).includes(f)))) {
        group.add(x);
        grew = true;
      }
  }
  for (const x of [...done].reverse().filter((y) => group.has(y))) {
    if (x !== d) {
      const file = stepFiles(x.step).find((f) => [...group].some((g) => g !== x && stepFiles(g.step).includes(f)));
      x.error ??= `rolled back with ${d.step.fix.id} (both changed ${file}): settle ${d.step.ids.join(", ") || d.step.fix.id} first, then remediate again`;
    }
    await undoStep(x, say, secrets, t);
  }
}

async function undoStep(d: Done, say: (l: string) => void, secrets: string[], t: Transport) {
  for (const u of [...d.undo].reverse()) {
    try {
      await u.run();
    } catch (err) {
      say(`     rollback of ${d.step.fix.id} could not ${u.what}: ${redact((err as Error).message, secrets)}`);
    }
  }
  // Newest-first undo reloads systemd before the unit files are back: reload once more on the restored files.
  if (d.step.actions.some((a) => a.kind === "daemon-reload")) await t.run(["systemctl", "daemon-reload"]);
  // A migrate or collectstatic cannot be put back by us: say so, with how to do it by hand.
  const kept = d.undo.filter((u) => u.irreversible).map((u) => u.what);
  const undone = d.undo.filter((u) => !u.irreversible).length;
  if (kept.length) d.error = `${d.error}; not undone automatically: ${kept.join("; ")}`;
  d.result = undone && !kept.length ? "rolled back" : "failed";
  say(`  ${d.step.fix.id}: ${undone ? "ROLLED BACK" : "failed"}${kept.length ? " (partly: some changes cannot be undone automatically)" : ""}: ${d.error}`);
}

// After a rollback: systemd rereads restored units and the app is restarted (if it runs) on restored files.
async function settle(
  config: Config,
  mk: () => Transport,
  t: Transport,
  scope: string[],
  done: Done[],
  say: (l: string) => void,
): Promise<Map<string, Outcome>> {
  await t.run(["systemctl", "daemon-reload"]);
  if (done.some((d) => d.result === "rolled back" && d.step.fix.restartsApp)) {
    const unit = (await serviceUnit(await freshContext(config, t))).id;
    await t.run(["systemctl", "try-restart", "--", unit], { timeoutMs: config.timeouts.commandMs * 3 });
  }
  const after = await settled(config, mk, scope);
  say(`  re-checked after rollback: ${redOf(scope, after).join(", ") || "nothing"} red`);
  return after;
}

// Re-checks `scope`, then looks again (up to 3 times, 2 s apart) at what is red and was not red before: a service
// that was just restarted, or a request that timed out on a loaded host, gets a moment before it is judged. A check
// that said when its verdict may clear by itself (a service not yet steady after restarts) gets one more look then.
async function settled(config: Config, mk: () => Transport, scope: string[], baseline?: Map<string, Outcome>): Promise<Map<string, Outcome>> {
  const after = await recheck(config, mk, scope);
  const lookAgain = async (ids: string[], ms: number) => {
    await new Promise((r) => setTimeout(r, ms));
    const again = await recheck(config, mk, ids);
    for (const id of ids) after.set(id, again.get(id) as Outcome);
  };
  for (let look = 0; look < 3; look++) {
    const suspects = scope.filter((id) => isRed(after.get(id)) && !(baseline && isRed(baseline.get(id))));
    if (!suspects.length) break;
    await lookAgain(suspects, 2000);
  }
  const timed = scope.filter((id) => isRed(after.get(id)) && after.get(id)?.retryInMs !== undefined);
  const wait = Math.max(0, ...timed.map((id) => after.get(id)?.retryInMs ?? 0));
  if (timed.length && wait <= config.remediation.restartWaitSeconds * 1000) await lookAgain(timed, wait);
  return after;
}
