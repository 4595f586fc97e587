import type { ProbeContext } from "../probes/context.ts";
import { unitEnvSources } from "../probes/environment.ts";
import type { Items } from "./items.ts";

// The unit's environment variables: each name with a salted hash of the value it ends up with (the last source that
// sets it wins, as in systemd) and where that is; never a value.
export async function gatherEnv(ctx: ProbeContext, b: Items): Promise<void> {
  const sources = await unitEnvSources(ctx);
  const last = new Map<string, { value: string; from: string }>();
  for (const s of sources) for (const [k, v] of Object.entries(s.env)) last.set(k, { value: v, from: s.name });
  for (const s of sources.filter((x) => x.kind === "EnvironmentFile=" && !x.exists)) b.add(`env file ${s.name}`, "missing", "missing");
  for (const [k, { value, from }] of [...last].sort(([a], [c]) => a.localeCompare(c))) b.secret(`env ${k}`, value, `from ${from}`);
}
