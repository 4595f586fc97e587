import { catalogue, narrowTo } from "../checks/index.ts";
import type { Config } from "../config/schema.ts";
import { ProbeContext } from "../probes/context.ts";
import { learnSecrets } from "../probes/secrets.ts";
import { forgetServiceFacts } from "../probes/service-facts.ts";
import { Evaluator, type Outcome } from "../runner/evaluate.ts";
import type { Transport } from "../transport/types.ts";

export const SMOKE_IDS = catalogue.filter((c) => c.smoke).map((c) => c.id);

// Judges `ids` afresh with the validator's own checks (new probe context, nothing remembered from before).
export async function recheck(config: Config, makeTransport: () => Transport, ids: Iterable<string>): Promise<Map<string, Outcome>> {
  forgetServiceFacts();
  const scope = new Set(ids);
  const ctx = new ProbeContext(config, makeTransport());
  narrowTo(ctx, scope);
  try {
    await learnSecrets(ctx);
    const ev = new Evaluator(ctx, scope);
    const out = await ev.all([...scope]);
    return new Map(out.map((o) => [o.id, o]));
  } finally {
    await ctx.close();
  }
}

// Red: the host is wrong or could not be looked at (a skip, blocked or not applicable, is neither).
export const isRed = (o: Outcome | undefined) => o?.status === "fail" || o?.status === "error";

// A fresh probe context whose secrets are learned: what fixes plan with.
export async function freshContext(config: Config, t: Transport): Promise<ProbeContext> {
  forgetServiceFacts();
  const ctx = new ProbeContext(config, t);
  await learnSecrets(ctx);
  return ctx;
}
