import { SERVICE_SMOKE } from "../fixes/service.ts";
import type { Config } from "../../config/schema.ts";
import { crashCause } from "../../probes/crash-cause.ts";
import { serviceUnit } from "../../probes/systemd.ts";
import type { Outcome } from "../../runner/evaluate.ts";
import type { Transport } from "../../transport/types.ts";
import { freshContext, isRed, recheck } from "../recheck.ts";
import type { StepLog, StepRecord } from "./steps.ts";

export type WaitResult = { green: boolean; red: Outcome[]; why?: string; seconds: number };

// What must pass before a playbook calls the service green: its own smoke checks and, with nginx in front, the path
// visitors use (health through nginx, and nginx reaching Gunicorn without 502/504).
export function playbookVerifies(config: Config): string[] {
  return [...SERVICE_SMOKE, ...(config.nginxUrl && config.dependencies.nginx ? ["HTTP-002", "HTTP-007"] : [])];
}

// Re-checks `ids` with the validator's own checks until all pass or `seconds` run out (or systemd gave up on the
// unit: failed, not restarting). When not green, says why: the red checks and the last starts' crash cause.
export async function waitSmoke(config: Config, mk: () => Transport, ids: string[], seconds: number): Promise<WaitResult> {
  const t0 = Date.now();
  const until = t0 + seconds * 1000;
  let red: Outcome[] = [];
  for (;;) {
    const out = await recheck(config, mk, ids);
    red = ids.map((id) => out.get(id)).filter((o): o is Outcome => isRed(o));
    if (!red.length) return { green: true, red, seconds: (Date.now() - t0) / 1000 };
    if (Date.now() >= until || (await gaveUp(config, mk))) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const why = await explain(config, mk);
  return { green: false, red, why, seconds: (Date.now() - t0) / 1000 };
}

// systemd stopped restarting the unit (failed, or inactive with no restart pending).
async function gaveUp(config: Config, mk: () => Transport): Promise<boolean> {
  const t = mk();
  try {
    const unit = await serviceUnit(await freshContext(config, t));
    return unit.activeState === "failed" || (unit.activeState === "inactive" && unit.subState !== "auto-restart");
  } finally {
    t.close();
  }
}

// The crash cause of the last starts (journal and Gunicorn's error log), or undefined when they name none.
export async function explain(config: Config, mk: () => Transport): Promise<string | undefined> {
  const t = mk();
  try {
    const ctx = await freshContext(config, t);
    const cause = await crashCause(ctx).catch((err: unknown) => ({ text: `could not read the crash cause: ${(err as Error).message}` }));
    return cause ? ctx.clip(cause.text, 400) : undefined;
  } finally {
    t.close();
  }
}

// The playbooks' "wait for <checks>" step: green within the restart wait, else failed, naming the red checks (with
// their status), the wait limit and the crash cause.
export function waitStep(log: StepLog, config: Config, mk: () => Transport, ids: string[]): Promise<StepRecord> {
  const limit = config.remediation.restartWaitSeconds;
  return log.run(`wait for ${ids.join(", ")}`, async () => {
    const w = await waitSmoke(config, mk, ids, limit);
    if (w.green) return `all pass after ${w.seconds.toFixed(1)} s`;
    const red = w.red.map((r) => `${r.id} ${r.status}: ${r.observed.slice(0, 200)}`).join("; ");
    throw new Error(`still red after ${w.seconds.toFixed(0)} s (limit ${limit} s): ${red}${w.why ? `; crash cause: ${w.why}` : ""}`);
  });
}
