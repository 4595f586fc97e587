import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { parseShow } from "../probes/systemctl-show.ts";
import { unitName } from "../probes/systemd.ts";

// Why this machine cannot be the deployment's host. `note` is said once, before the checks; `advice` is the do: line
// of each check that could not look here (its catalogue advice is for a deployed host, and would mislead).
export type WrongMachine = { kind: "no-systemd" | "no-unit" | "not-root"; note: string; advice: string };

// What wrongMachine looks at (tests give their own).
export type MachineFacts = { systemd: () => boolean; loadState: (unit: string) => string | undefined; uid: () => number | undefined };

const thisMachine: MachineFacts = {
  systemd: () => existsSync("/run/systemd/system"),
  loadState: (unit) => {
    try {
      // Before any transport exists (the run's start), so systemctl is run here; its answer is read as everywhere.
      const text = execFileSync("systemctl", ["show", "--no-pager", unit, "-p", "LoadState"], { encoding: "utf8", timeout: 5_000 });
      return parseShow(text)[0]?.one("LoadState") ?? "";
    } catch {
      return undefined; // the checks will say why systemctl failed
    }
  },
  uid: () => process.getuid?.(),
};

// Whether this machine can be the deployment's host: no systemd, no such unit, or not root (each with what to do).
// Undefined when nothing is amiss.
export function wrongMachine(service: string, facts: Partial<MachineFacts> = {}): WrongMachine | undefined {
  const f = { ...thisMachine, ...facts };
  if (!f.systemd())
    return {
      kind: "no-systemd",
      note:
        "this machine is not the deployment's host: systemd is not running here (no /run/systemd/system). Every check that asks " +
        "systemd is an error, and the checks that stand on those are skipped. Run the validator on the server itself, or from here over ssh with DEPLOY_HOSTS.",
      advice: "nothing to fix here (this machine is not the deployment's host): run the validator on the server, or over ssh with DEPLOY_HOSTS",
    };
  const unit = unitName(service);
  if (f.loadState(unit) === "not-found")
    return {
      kind: "no-unit",
      note:
        `this host has no unit ${unit} (LoadState=not-found): set DEPLOY_SERVICE, ` +
        "or write deploy.config.json with the service's unit name, project and paths. " +
        "`npm run discover` (as root, on this host) finds the Django service and writes it for you.",
      advice: `this host has no unit ${unit}: set DEPLOY_SERVICE (or the config's service) to the deployment's unit, or run on the host that has it`,
    };
  if (f.uid() !== 0)
    return {
      kind: "not-root",
      note: "not running as root: the checks read /proc/<pid>/environ, the journal and root-only files, and will error where they cannot.",
      advice: "run the validator as root: this check reads what only root may read",
    };
  return undefined;
}

// The do: line of a check that could not look on such a machine (undefined: its catalogue advice stands). Not being
// root explains only what root alone may read; no systemd or no unit explains every error here.
export function errorAdvice(w: WrongMachine | undefined, observed: string): string | undefined {
  if (w?.kind === "not-root" && !/EACCES|EPERM|[Pp]ermission denied|not permitted/.test(observed)) return undefined;
  return w?.advice;
}
