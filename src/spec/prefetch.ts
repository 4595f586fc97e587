import { loadConfig } from "../config/load.ts";
import { ProbeContext } from "../probes/context.ts";
import { serviceEnv } from "../probes/environment.ts";
import { learnSecrets } from "../probes/secrets.ts";
import { startServiceFactsEarly, wantedForSuites } from "../probes/service-facts.ts";
import { showUnits } from "../probes/systemd.ts";
import { createLocalTransport } from "../transport/local.ts";
import { inject } from "vitest";
import type { RunSelection } from "./run-selection.ts";

// Light on purpose: imported first by register.ts, before the checks and their libraries load.
type RunProbes = { ctx: ProbeContext; secrets: Promise<string[]> };
let probes: RunProbes | undefined;

// The run's one probe context; creating it sets going the facts every suite stands on (`systemctl show` of the
// units, the service's environment, its secrets, the one Python start as the service), so they are gathered while
// the rest of the modules still load.
export function runProbes(): RunProbes {
  if (!probes) {
    const config = loadConfig();
    const ctx = new ProbeContext(config, createLocalTransport(config.timeouts.commandMs));
    // Failures surface in the checks that read these facts; nothing is awaited here.
    showUnits(ctx).catch(() => {});
    serviceEnv(ctx).catch(() => {});
    const secrets = learnSecrets(ctx);
    secrets.catch(() => {});
    const run = inject("ddvRun") as RunSelection | undefined;
    if (run) startServiceFactsEarly(ctx, wantedForSuites(run.suites));
    probes = { ctx, secrets };
  }
  return probes;
}

try {
  runProbes();
} catch {
  // A bad config: global-setup has stopped the run with its message already; session() throws it again if not.
}
