import type { ProbeContext } from "../probes/context.ts";
import { gatherFingerprint } from "./gather.ts";
import { historyDir, historyEnabled, stateSalt } from "./state-dir.ts";
import { writePending } from "./store.ts";

let handed: Promise<void> | undefined;

// Worker side, once per run (after the first spec file's checks, their facts memoised): gathers the deployment's
// fingerprint and leaves it in the state directory for the history reporter. Never fails the run: says why once.
export function handOverFingerprintOnce(ctx: ProbeContext, runId: string): Promise<void> {
  handed ??= (async () => {
    if (!historyEnabled()) return;
    const state = historyDir();
    writePending(state, await gatherFingerprint(ctx, runId, stateSalt(state)));
  })().catch((err: unknown) => {
    process.stderr.write(`ddv: no run history this run (set DDV_STATE_DIR, or DDV_HISTORY=off): ${(err as Error).message}\n`);
  });
  return handed;
}
