import { readsOfSuites } from "../checks/define.ts";
import { loadConfig } from "../config/load.ts";
import { hostBound, type Target } from "../fleet/targets.ts";
import { ProbeContext } from "../probes/context.ts";
import { serviceEnv } from "../probes/environment.ts";
import { learnSecrets } from "../probes/secrets.ts";
import { startOptions, startServiceFactsEarly } from "../probes/service-facts.ts";
import { showUnits } from "../probes/systemd.ts";
import { openTransport } from "../transport/open.ts";
import { inject } from "vitest";
import type { RunSelection } from "./run-selection.ts";
import type { WrongMachine } from "./where.ts";

// Light on purpose: imported first by register.ts, before the checks and their libraries load.
type RunProbes = { ctx: ProbeContext; secrets: Promise<string[]> };
const probes = new Map<string, RunProbes>();

declare module "vitest" {
  interface ProvidedContext {
    // The hosts of a fleet run (DEPLOY_HOSTS / DEPLOY_INVENTORY), resolved once by global-setup; absent: this machine.
    ddvTargets?: Target[];
    // Where a fleet run's ssh control directories go: global-setup removes it when the run ends.
    ddvSshDir?: string;
    // Why this machine cannot be the deployment's host (no systemd, no such unit, not root), said once by global-setup.
    ddvWhere?: WrongMachine;
  }
}

// The fleet this run checks, or undefined when it checks the machine it runs on.
export function runTargets(): Target[] | undefined {
  try {
    return inject("ddvTargets");
  } catch {
    return undefined; // outside a vitest worker (a script importing the checks)
  }
}

// Why this machine cannot be the deployment's host, as global-setup found it; undefined when nothing is amiss
// (or in a fleet run, or outside a vitest worker).
export function runWhere(): WrongMachine | undefined {
  try {
    return inject("ddvWhere");
  } catch {
    return undefined;
  }
}

// A host's probe context (undefined: this machine); creating it sets going the facts every suite stands on
// (`systemctl show` of the units, the service's environment, its secrets, the one Python start as the service).
export function runProbes(target?: Target): RunProbes {
  const key = target?.name ?? "";
  let p = probes.get(key);
  if (!p) {
    const config = loadConfig(process.env, process.cwd(), target);
    const transport = openTransport(target?.ssh, config.timeouts.commandMs, inject("ddvSshDir"));
    const ctx = new ProbeContext(config, transport);
    // Failures surface in the checks that read these facts; nothing is awaited here.
    showUnits(ctx).catch(() => {});
    serviceEnv(ctx).catch(() => {});
    const secrets = learnSecrets(ctx);
    secrets.catch(() => {});
    const run = inject("ddvRun") as RunSelection | undefined;
    if (run) startServiceFactsEarly(ctx, startOptions(readsOfSuites(run.suites)));
    p = { ctx, secrets };
    probes.set(key, p);
  }
  return p;
}

// Every host's probe context made so far (the run's end disposes of their connections).
export function allProbes(): RunProbes[] {
  return [...probes.values()];
}

try {
  // This machine's facts, or the first hosts of a fleet (as many as the run checks at once), start now: their
  // connections open while the checks' modules load. The others start in turn (register.ts).
  const targets = runTargets();
  if (!targets) runProbes();
  else for (const t of targets.slice(0, hostBound())) runProbes(t);
} catch {
  // A bad config: global-setup has stopped the run with its message already; session() throws it again if not.
}
