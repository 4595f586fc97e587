import type { Config } from "../../config/schema.ts";
import type { ProbeContext } from "../../probes/context.ts";
import type { Transport } from "../../transport/types.ts";
import { applyAction, type ApplyEnv } from "../actions.ts";
import { startPostgresql } from "../fixes/dependencies.ts";
import type { StepOutcome } from "./steps.ts";

// Makes sure PostgreSQL is up: the start-postgresql fix's own plan (the umbrella unit and each cluster unit that is
// down), without its `enable` (an emergency restart changes no boot-time setting).
export async function ensurePostgresql(ctx: ProbeContext, config: Config, t: Transport, env: ApplyEnv): Promise<StepOutcome> {
  const plan = await startPostgresql.plan({ ctx, config, transport: t, ids: [], addSecret: (v) => ctx.secrets.push(v) });
  if ("manual" in plan) return { result: "refused", detail: plan.manual };
  const starts = plan.actions.filter((a) => a.kind === "unit" && a.verb === "start");
  const down: string[] = [];
  for (const a of starts) {
    if (a.kind !== "unit") continue;
    const r = await t.run(["systemctl", "is-active", "--quiet", "--", a.unit]);
    if (r.exitCode !== 0) down.push(a.unit);
  }
  if (!down.length) return { result: "skipped", detail: `already active: ${starts.map((a) => (a.kind === "unit" ? a.unit : "")).join(", ")}` };
  for (const a of starts) await applyAction(a, { ...env, fix: "emergency-restart" });
  return { detail: `started ${down.join(", ")}` };
}
