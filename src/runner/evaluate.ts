import { catalogue, checkById } from "../checks/index.ts";
import type { Check } from "../checks/define.ts";
import type { ProbeContext } from "../probes/context.ts";

export type Status = "pass" | "fail" | "error" | "skip";
export type Outcome = { id: string; status: Status; observed: string; blockedBy?: string; durationMs: number };

// Evaluates checks once per run, dependencies first, so a failing root check turns its dependants into skips.
export class Evaluator {
  private readonly results = new Map<string, Promise<Outcome>>();
  constructor(readonly ctx: ProbeContext) {}

  evaluate(id: string): Promise<Outcome> {
    let p = this.results.get(id);
    if (!p) {
      p = this.compute(checkById(id));
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
    if (blocker) {
      const root = blocker.status === "skip" && blocker.blockedBy ? blocker.blockedBy : blocker.id;
      return done({ status: "skip", blockedBy: root, observed: `blocked by ${root} (${blocker.status === "error" ? "could not be checked" : "failed"})` });
    }
    return done(await (early ?? this.attempt(check)));
  }

  // Runs one check's own judgement; never rejects.
  private async attempt(check: Check): Promise<Pick<Outcome, "status" | "observed">> {
    const skipReason = check.skipIf?.(this.ctx);
    if (skipReason) return { status: "skip", observed: skipReason };
    try {
      const v = await check.run(this.ctx);
      return { status: v.pass ? "pass" : "fail", observed: v.observed };
    } catch (err) {
      return { status: "error", observed: `could not check: ${(err as Error).message}` };
    }
  }
}
