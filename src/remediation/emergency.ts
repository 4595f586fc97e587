import type { Config } from "../config/schema.ts";
import type { Transport } from "../transport/types.ts";
import { EXIT, RemediateError } from "./errors.ts";

export type EmergencyOptions = { config: Config; transport: () => Transport; say: (l: string) => void; confirm: () => Promise<boolean>; dryRun: boolean };

// The emergency playbooks (emergency-restart, emergency-reset).
export async function emergency(command: string, _o: EmergencyOptions): Promise<number> {
  throw new RemediateError(`${command} is not available yet`, EXIT.usage);
}
