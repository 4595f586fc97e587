import { redact } from "../../probes/redact.ts";

// One step's outcome as printed: ok, skipped (nothing to do), refused (not safe to act), failed.
export type StepResult = "ok" | "skipped" | "refused" | "failed";
export type StepRecord = { name: string; result: StepResult; detail: string; ms: number };

// What a step body returns: its result (ok when omitted) and one line saying what it found or did.
export type StepOutcome = { result?: StepResult; detail?: string };

// Runs the playbook's steps one by one, printing each step's name, result and time as it ends (secrets redacted).
export class StepLog {
  readonly steps: StepRecord[] = [];
  constructor(
    private readonly say: (l: string) => void,
    private readonly secrets: () => string[],
  ) {}

  // Runs `fn` as one step; a thrown error is the step's failure (the playbook decides whether to go on).
  async run(name: string, fn: () => Promise<StepOutcome | string | void>): Promise<StepRecord> {
    const t0 = performance.now();
    let rec: StepRecord;
    try {
      const out = await fn();
      const o: StepOutcome = typeof out === "string" ? { detail: out } : (out ?? {});
      rec = { name, result: o.result ?? "ok", detail: o.detail ?? "", ms: performance.now() - t0 };
    } catch (err) {
      rec = { name, result: "failed", detail: (err as Error).message, ms: performance.now() - t0 };
    }
    rec.detail = redact(rec.detail, this.secrets());
    this.steps.push(rec);
    const label = rec.result === "ok" ? "ok" : rec.result.toUpperCase();
    this.say(`  [${this.steps.length}] ${name}: ${label} (${(rec.ms / 1000).toFixed(1)} s)${rec.detail ? `: ${rec.detail}` : ""}`);
    return rec;
  }

  // True when some step failed or refused.
  get troubled(): boolean {
    return this.steps.some((s) => s.result === "failed" || s.result === "refused");
  }
}
