import type { Config } from "../config/schema.ts";
import type { Transport } from "../transport/types.ts";
import { EXIT, RemediateError } from "./errors.ts";
import { emergencyReset } from "./emergency/reset.ts";
import { emergencyRestart } from "./emergency/restart.ts";
import { freshContext } from "./recheck.ts";
import { assertDeployedHere } from "./run.ts";
import { hostIdentity } from "../runner/identity.ts";

export type EmergencyOptions = { config: Config; transport: () => Transport; say: (l: string) => void; confirm: () => Promise<boolean>; dryRun: boolean };

// The emergency playbooks (emergency-restart, emergency-reset); resolves the exit code.
export async function emergency(command: string, o: EmergencyOptions): Promise<number> {
  if (command !== "emergency-restart" && command !== "emergency-reset")
    throw new RemediateError(`unknown emergency playbook ${JSON.stringify(command)}`, EXIT.usage);
  const t = o.transport();
  const ctx = await freshContext(o.config, t);
  try {
    await assertDeployedHere(ctx, (await hostIdentity(ctx)).hostname, { codeWillDo: command === "emergency-reset" });
  } finally {
    await ctx.close();
  }
  if (command === "emergency-restart") return emergencyRestart(o);
  if (command === "emergency-reset") return emergencyReset(o);
  throw new RemediateError(`unknown emergency playbook ${JSON.stringify(command)}`, EXIT.usage);
}
