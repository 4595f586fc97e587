import * as allure from "allure-js-commons";
import { afterAll, describe, test } from "vitest";
import { catalogue } from "../checks/index.ts";
import type { Check } from "../checks/define.ts";
import { redact } from "../probes/environment.ts";
import type { Outcome } from "../runner/evaluate.ts";
import { endSession, session } from "./session.ts";

// A check that ran and found the host wrong; allure shows it as failed (not broken) because of the name.
class CheckFailure extends Error {
  override name = "AssertionError";
}

// We could not look (timeout, permission, missing tool); allure shows it as broken.
class CheckError extends Error {
  override name = "CheckError";
}

// The failure text every report shows: ID, expected, observed, what to do.
export function formatOutcome(check: Check, o: Outcome): string {
  const head = o.status === "error" ? `${check.id} ERROR (could not check)` : `${check.id} FAIL`;
  const fix = check.fixId ? `${check.recommendation} (automated fix: ${check.fixId})` : check.recommendation;
  return `${head}: ${check.title}\n  expected: ${check.expects}\n  observed: ${o.observed}\n  do:       ${fix}`;
}

function registerCheck(check: Check) {
  // The ID sits in the title (for -t and allure) and in meta (for the JSON report and remediation).
  const options = { tags: check.smoke ? ["smoke"] : [], meta: { checkId: check.id, suite: check.suite, severity: check.severity, smoke: check.smoke } };
  test(`${check.id} ${check.title} @allure.id=${check.id}`, options, async (ctx) => {
    await allure.label("check_id", check.id);
    await allure.parentSuite(check.suite);
    await allure.severity(check.severity === "critical" ? "critical" : check.severity === "high" ? "normal" : "minor");
    if (check.smoke) await allure.tags("smoke");
    const s = session();
    const o = await s.evaluator.evaluate(check.id);
    const secrets = await s.secrets;
    const observed = redact(o.observed, secrets);
    Object.assign(ctx.task.meta, { status: o.status, observed, blockedBy: o.blockedBy });
    if (o.status === "pass") {
      await allure.parameter("observed", observed, { excluded: true });
      return;
    }
    if (o.status === "skip") return ctx.skip(observed);
    const text = redact(formatOutcome(check, o), secrets);
    const err = o.status === "error" ? new CheckError(text) : new CheckFailure(text);
    // The message is the whole story; a code frame pointing into this helper would only distract.
    err.stack = `${err.name}: ${text}`;
    throw err;
  });
}

// Registers every check of a suite (smoke ones included) as tests of this spec file.
export function registerSuite(suite: Check["suite"]) {
  describe(suite, () => {
    for (const c of catalogue.filter((c) => c.suite === suite)) registerCheck(c);
  });
  afterAll(endSession);
}

// Registers the smoke checks of every suite: the post-deploy gate.
export function registerSmoke() {
  describe("smoke", () => {
    for (const c of catalogue.filter((c) => c.smoke)) registerCheck(c);
  });
  afterAll(endSession);
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
  }
}
