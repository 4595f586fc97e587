import { catalogue, checkById } from "../checks/index.ts";
import type { Check } from "../checks/define.ts";
import type { ProbeContext } from "../probes/context.ts";

export type Status = "pass" | "fail" | "error" | "skip";
// rootCause: a failed dependency outside this run that this check's own failure or error is blamed on.
// retryInMs: a failure that may clear by itself after that long (see Verdict).
export type Outcome = { id: string; status: Status; observed: string; blockedBy?: string; rootCause?: string; durationMs: number; retryInMs?: number };

const COULD_NOT = "could not check: ";

// An error's observed text without its "could not check: " lead, for a sentence that says so already.
export function dropCheckPrefix(observed: string): string {
  return observed.startsWith(COULD_NOT) ? observed.slice(COULD_NOT.length) : observed;
}

// Evaluates checks once per run, dependencies first. A failing root check turns its dependants into skips
// when the root is reported in the same run (scope); otherwise the dependant judges for itself, so a
// narrower run (one suite, the smoke gate) can never be green because its real cause was left out.
export class Evaluator {
  private readonly results = new Map<string, Promise<Outcome>>();
  constructor(
    readonly ctx: ProbeContext,
    private readonly scope: ReadonlySet<string> = new Set(catalogue.map((c) => c.id)),
    private readonly lookup: (id: string) => Check = checkById,
    // A run narrowed by name (-t): a check whose red root was left out fails instead of passing on its own, so
    // filtering the root away can never turn the gate green.
    private readonly opts: { redOutsideFails?: boolean } = {},
  ) {}

  evaluate(id: string): Promise<Outcome> {
    let p = this.results.get(id);
    if (!p) {
      p = this.compute(this.lookup(id));
      this.results.set(id, p);
    }
    return p;
  }

  // Evaluates everything (used by the benchmark and by remediation re-checks).
  all(ids = catalogue.map((c) => c.id)): Promise<Outcome[]> {
    return Promise.all(ids.map((id) => this.evaluate(id)));
  }

  private async compute(check: Check): Promise<Outcome> {
    const started = performance.now();
    const done = (o: Omit<Outcome, "id" | "durationMs">): Outcome => ({ id: check.id, durationMs: performance.now() - started, ...o });
    // Checks only read, so a check may look while its dependencies are still being judged; if one of them
    // fails, its answer is dropped. Load tests never start early.
    const early = check.suite === "performance" ? undefined : this.attempt(check);
    const deps = await Promise.all(check.dependsOn.map((d) => this.evaluate(d)));
    // A dependency skipped as not applicable here (no nginx, say) does not block; a failed or blocked one does.
    const blocker = deps.find((d) => d.status === "fail" || d.status === "error" || (d.status === "skip" && d.blockedBy));
    if (!blocker) return done(await (early ?? this.attempt(check)));
    // Skip only behind a red check this run reports: the blocker's own root, or the blocker itself.
    const shown = [blocker.blockedBy, blocker.status === "skip" ? undefined : blocker.id].find((id) => id && this.scope.has(id));
    // Otherwise blame the deepest cause: what the blocker was blocked by, blamed its failure on, or itself.
    const root = shown ?? blocker.blockedBy ?? blocker.rootCause ?? blocker.id;
    const r = await this.evaluate(root);
    const how = r.status === "error" ? "could not be checked" : "failed";
    if (shown) return done({ status: "skip", blockedBy: root, observed: `blocked by ${root} (${how})` });
    // The root is not in this run: only our own verdict can keep the run honest. A pass stands (the root's
    // finding belongs to the run that includes it); a failure or error names the root it comes from.
    const own = await (early ?? this.attempt(check));
    if (this.opts.redOutsideFails && own.status === "pass")
      return done({
        status: "fail",
        rootCause: root,
        observed:
          `its root ${root} (${this.lookup(root).title}) ${how} and was left out of this run by -t: ` +
          `${dropCheckPrefix(r.observed)}; run without -t to see it (its own look: ${own.observed})`,
      });
    if (own.status === "pass" || own.status === "skip") return done(own);
    // The same words twice (no systemd: every check that asks it errs alike) are said once.
    const same = dropCheckPrefix(own.observed) === dropCheckPrefix(r.observed);
    const cause = `${root} (${this.lookup(root).title}) ${how}${same ? ", for the same reason" : `: ${dropCheckPrefix(r.observed)}`}`;
    return done({ ...own, rootCause: root, observed: `${own.observed}; root cause: ${cause}` });
  }

  // Runs one check's own judgement; never rejects.
  private async attempt(check: Check): Promise<Pick<Outcome, "status" | "observed" | "retryInMs">> {
    const skipReason = check.skipIf?.(this.ctx);
    if (skipReason) return { status: "skip", observed: skipReason };
    try {
      const v = await check.run(this.ctx);
      if (v.skip) return { status: "skip", observed: v.observed };
      return v.pass ? { status: "pass", observed: v.observed } : { status: "fail", observed: v.observed, retryInMs: v.retryInMs };
    } catch (err) {
      return { status: "error", observed: `${COULD_NOT}${(err as Error).message}` };
    }
  }
}
