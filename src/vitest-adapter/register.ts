// First, before the libraries below load: it starts gathering the facts every check stands on.
import "./prefetch.ts";
import { hostname } from "node:os";
import * as allure from "allure-js-commons";
import { afterAll, beforeAll, inject, test } from "vitest";
import type { Check } from "../checks/define.ts";
import { redact } from "../probes/environment.ts";
import { CAUSE_LABEL, causeOf } from "../report/causes.ts";
import { recordEnvironmentOnce } from "../report/environment.ts";
import { gatherEvidence } from "../report/evidence.ts";
import { severityLabels } from "../report/severity.ts";
import { allureResultsDir } from "../report/paths.ts";
import { catalogueVersion, hostIdentity } from "../runner/identity.ts";
import { formatOutcome } from "./outcome-text.ts";
import { checksOf, testName } from "./scope.ts";
import { reportOutcome } from "./verdict.ts";
import { endSession, session } from "./session.ts";
import type { Target } from "../fleet/targets.ts";
import { hostTurn, reach, startFleet, unreachableReporter } from "./fleet.ts";
import { runTargets, runWhere } from "./prefetch.ts";
import { explainUnjudged } from "./unjudged.ts";
import { errorAdvice } from "./where.ts";
import { checkById } from "../checks/index.ts";
import { handOverFingerprintOnce } from "../history/hand-over.ts";

// A check that ran and found the host wrong; allure shows it as failed (not broken) because of the name.
class CheckFailure extends Error {
  override name = "AssertionError";
}

// We could not look (timeout, permission, missing tool); allure shows it as broken.
class CheckError extends Error {
  override name = "CheckError";
}

function registerCheck(check: Check, parent: string, target?: Target) {
  // The ID leads the title (for -t, the terminal and JUnit), is the Allure ID, and sits in meta (for the JSON report
  // and remediation); in a fleet run the host follows it. The run's id too: `report` and `remediate` match it to run.json.
  const runId = inject("ddvRun")?.id;
  const options = {
    tags: check.smoke ? ["smoke"] : [],
    meta: { checkId: check.id, suite: check.suite, severity: check.severity, smoke: check.smoke, target: target?.name, runId },
  };
  const name = testName(check, target?.name);
  test(name, options, async (ctx) => {
    // A skip says why in Allure too (allure-vitest drops the skip's note): blocked by, below failOn, waived, not configured.
    const skip = async (why: string) => {
      await allure.description(why);
      return ctx.skip(why);
    };
    await allure.allureId(check.id);
    await allure.label("check_id", check.id);
    if (runId) await allure.label("run_id", runId);
    await allure.parentSuite(parent); // the suite, or "smoke"
    await allure.suite(check.suite);
    await allure.epic("post-deploy validation");
    await allure.feature(check.suite);
    await allure.label(CAUSE_LABEL, causeOf(check));
    await allure.labels(...severityLabels(check.severity));
    if (check.smoke) await allure.tags("smoke");
    if (target) {
      await allure.parameter("target", target.name);
      await allure.label("target", target.name);
      await hostTurn(target);
      const down = await reach(target);
      if (down) {
        // One error per unreachable host; its other checks point to it instead of repeating it.
        const first = unreachableReporter(target, name);
        Object.assign(ctx.task.meta, { status: first === name ? "error" : "skip", observed: down });
        if (first !== name) return skip(`host ${target.name} could not be reached: see ${first.split(" ")[0]} [${target.name}]`);
        const text =
          `${check.id} ERROR (could not check): host ${target.name} could not be reached, so none of its checks ran\n` +
          `  observed: ${down}\n` +
          `  do:       make \`ssh ${target.ssh?.host ?? target.name} true\` work non-interactively for this user ` +
          "(key, known_hosts, network, passwordless sudo), then run again";
        const err = new CheckError(text);
        err.stack = `${err.name}: ${text}`;
        throw err;
      }
    }
    const s = session(target);
    const o = await s.evaluator.evaluate(check.id);
    const secrets = await s.secrets;
    const host = await hostIdentity(s.ctx).catch(() => undefined);
    // Remediation refuses a report from another host or catalogue: each test carries both.
    Object.assign(ctx.task.meta, { host, catalogue: catalogueVersion() });
    if (host) {
      // allure-vitest already labels the host it runs on; a second, equal label would only repeat it.
      if (host.hostname !== (process.env.ALLURE_HOST_NAME ?? hostname())) await allure.label("host", host.hostname);
      // A parameter too: a check's history in the report is kept per host.
      await allure.parameter("host", host.hostname);
      await allure.label("machine_id", host.machineId);
    }
    await allure.label("catalogue", catalogueVersion());
    const observed = redact(o.observed, secrets);
    const r = reportOutcome(check, o, s.ctx.config, host?.hostname ?? hostname(), new Date().toLocaleDateString("sv-SE"));
    const waiver = r.kind === "waived" ? { reason: r.waiver.reason, expires: r.waiver.expires } : undefined;
    Object.assign(ctx.task.meta, {
      status: r.kind === "waived" ? "waived" : o.status,
      observed,
      blockedBy: o.blockedBy,
      rootCause: o.rootCause,
      waiver,
      belowFailOn: r.kind === "below" || undefined,
    });
    if (o.blockedBy) await allure.label("blocked_by", o.blockedBy);
    if (o.rootCause) await allure.label("root_cause", o.rootCause);
    if (o.status === "pass") {
      await allure.parameter("observed", observed, { excluded: true });
      return;
    }
    if (o.status === "skip") return skip(observed);
    // A waived or below-threshold failure is shown, one line, as a skip: visible in every report, not red.
    if (r.kind === "waived" || r.kind === "below") {
      await allure.label("outcome", r.kind);
      const line = `${r.note} | ${check.id} FAIL: ${observed}`;
      // The default reporter lists a passing file's tests only on a terminal: say it on the console too.
      console.log(`${check.id} ${line}`);
      return skip(line);
    }
    // What the operator would look at next, redacted and capped (only for failures: passing checks cost nothing).
    for (const e of await gatherEvidence(s.ctx, check, secrets)) await allure.attachment(e.name, e.text, "text/plain");
    // The real unit where the catalogue says <service>; on a machine that cannot be the deployment's host, why.
    const about = { service: s.ctx.config.service, wrongMachine: target ? undefined : errorAdvice(runWhere(), o.observed) };
    const text = redact(formatOutcome(check, o, about) + (r.note ? `\n  waiver:   ${r.note}` : ""), secrets);
    const err = o.status === "error" ? new CheckError(text) : new CheckFailure(text);
    // The message is the whole story; a code frame pointing into this helper would only distract.
    err.stack = `${err.name}: ${text}`;
    throw err;
  });
}

// Registers checks as tests, at the spec file's top level: a test's full name is "<check ID> <title>" in the
// terminal, JSON and JUnit (no describe prefix). Before the first test, every selected check starts evaluating at
// once, so probes overlap instead of queueing; load tests are left to run alone, when their own test comes.
function registerAll(name: string, checks: Check[], opts: { gate?: boolean } = {}) {
  const targets = runTargets();
  // Vitest passes fixtures first (must be destructured) and the file's suite second.
  beforeAll(async ({}, suite) => {
    const tasks = (suite as { tasks?: Array<{ mode: string; meta: { checkId?: string } }> }).tasks ?? [];
    const selected = new Set(tasks.filter((t) => t.mode === "run").map((t) => t.meta.checkId));
    const ids = checks.filter((c) => selected.has(c.id) && c.suite !== "performance").map((c) => c.id);
    // A fleet: hosts connect and judge in turn, a bounded number at once.
    if (targets) return startFleet(targets, ids);
    const s = session();
    await s.secrets;
    for (const id of ids) void s.evaluator.evaluate(id);
  });
  // Host by host, so a host's results read together.
  for (const t of targets ?? [undefined]) for (const c of checks) registerCheck(c, name, t);
  // Hooks run last-registered first: the session closes its connections last.
  afterAll(endSession);
  if (opts.gate) afterAll(() => judgeLeftOut(checks, targets));
  // A file whose every check was blocked by a red root judged nothing: one error, never a green tick.
  afterAll(async ({}, suite) => {
    const tests = suite.tasks.map((t) => ({ meta: t.meta }));
    const why = await explainUnjudged(name, tests, (root, host) =>
      rootState(
        root,
        targets?.find((t) => t.name === host),
      ),
    );
    if (!why) return;
    const err = new Error(why);
    err.stack = `${err.name}: ${why}`;
    throw err;
  });
  // The run history's fingerprint of this machine's deployment, once per run, before the session closes its connections
  // (hooks run last-registered first). Not for a fleet, nor on a machine that cannot be the deployment's host.
  afterAll(() => {
    const runId = inject("ddvRun")?.id;
    if (!targets && runId && !runWhere()) return handOverFingerprintOnce(session().ctx, runId);
  });
  // The report's Environment panel, once per run, after the checks (never competing with their probes and timings;
  // the facts it shares with them are memoised by then).
  afterAll(() =>
    recordEnvironmentOnce(session(targets?.[0]).ctx, allureResultsDir()).catch((err: unknown) => {
      process.stderr.write(`could not record the report's environment information: ${(err as Error).message}\n`);
    }),
  );
}

// Every check of a suite (smoke ones included): one spec file per suite.
export function registerSuite(suite: Check["suite"]) {
  registerAll(suite, checksOf(suite));
}

// The smoke checks of every suite (every critical check among them): the post-deploy gate.
export function registerSmoke() {
  registerAll("smoke", checksOf("smoke"), { gate: true });
}

// How a root that blocked checks ended, as the run reports it: red ("failed", "could not be checked"), or
// undefined (passed, or a failure that is waived or below failOn).
async function rootState(root: string, target?: Target): Promise<string | undefined> {
  const s = session(target);
  const o = await s.evaluator.evaluate(root);
  const host = await hostIdentity(s.ctx).catch(() => undefined);
  const r = reportOutcome(checkById(root), o, s.ctx.config, host?.hostname ?? hostname(), new Date().toLocaleDateString("sv-SE"));
  return r.kind === "error" ? "could not be checked" : r.kind === "fail" ? "failed" : undefined;
}

// The gate narrowed by -t still judges the checks it left out: any of them red turns the run red (an afterAll
// error), so a name filter can never make the gate green on a broken site.
async function judgeLeftOut(checks: Check[], targets: Target[] | undefined) {
  const red: string[] = [];
  for (const t of targets ?? [undefined]) {
    const s = session(t);
    const out = checks.filter((c) => s.ctx.scope && !s.ctx.scope.has(c.id));
    if (!out.length || (t && (await reach(t)))) continue;
    const secrets = await s.secrets;
    for (const o of await Promise.all(out.map((c) => s.evaluator.evaluate(c.id))))
      if (o.status === "fail" || o.status === "error")
        red.push(`${o.id}${t ? ` [${t.name}]` : ""} ${o.status === "fail" ? "FAIL" : "ERROR"}: ${redact(o.observed, secrets).slice(0, 200)}`);
  }
  if (!red.length) return;
  const err = new Error(`the smoke gate is red: ${red.length} check(s) left out by -t are red:\n  ${red.join("\n  ")}\n  run the gate without -t to see them`);
  err.stack = `${err.name}: ${err.message}`;
  throw err;
}

// What each test carries into the JSON report, for remediation and audits.
declare module "@vitest/runner" {
  interface TaskMeta {
    checkId?: string;
    suite?: string;
    severity?: string;
    smoke?: boolean;
    status?: string;
    observed?: string;
    blockedBy?: string;
    rootCause?: string;
    waiver?: { reason: string; expires: string };
    belowFailOn?: boolean;
    host?: { hostname: string; machineId: string };
    // The fleet host's name (DEPLOY_HOSTS entry or inventory name): remediation reaches it again by this name.
    target?: string;
    catalogue?: string;
    // The run's id (vitest.config.ts), as reports/run.json names the last run.
    runId?: string;
  }
}
