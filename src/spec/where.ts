import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { unitName } from "../probes/systemd.ts";

// One line before the checks when this machine cannot be the deployment's host, so a page of errors is explained
// once: no systemd, not root, or no such unit (with what to do). Undefined when nothing is amiss.
export function wrongMachine(service: string, uid = process.getuid?.()): string | undefined {
  if (!existsSync("/run/systemd/system")) {
    return (
      "systemd is not running on this machine (no /run/systemd/system): every check that asks systemd will error. " +
      "Run the validator on the server itself, or from here over ssh with DEPLOY_HOSTS."
    );
  }
  const unit = unitName(service);
  let state = "";
  try {
    state = execFileSync("systemctl", ["show", "-p", "LoadState", "--value", "--", unit], { encoding: "utf8", timeout: 5_000 }).trim();
  } catch {
    return undefined; // the checks will say why systemctl failed
  }
  if (state === "not-found")
    return (
      `this host has no unit ${unit} (LoadState=not-found): set DEPLOY_SERVICE, ` +
      "or write deploy.config.json with the service's unit name, project and paths."
    );
  if (uid !== 0) return "not running as root: the checks read /proc/<pid>/environ, the journal and root-only files, and will error where they cannot.";
  return undefined;
}
