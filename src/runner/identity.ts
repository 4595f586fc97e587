import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { catalogue } from "../checks/index.ts";
import type { ProbeContext } from "../probes/context.ts";

// Which host a report is about: read from the target (through the transport), so a fleet report names each host.
export type HostIdentity = { hostname: string; machineId: string };

// The target's hostname and machine-id, once per run.
export function hostIdentity(ctx: ProbeContext): Promise<HostIdentity> {
  return ctx.once("host:identity", async () => {
    const [hostname, machineId] = await Promise.all([ctx.transport.readFile("/proc/sys/kernel/hostname"), ctx.transport.readFile("/etc/machine-id")]);
    return { hostname: hostname.trim(), machineId: machineId.trim() };
  });
}

let version: string | undefined;
// Version of the check catalogue: the package version plus a digest of what remediation relies on (IDs, suites,
// severities, smoke membership, fixes, dependencies). Wording changes keep it; a changed meaning changes it.
export function catalogueVersion(): string {
  if (version) return version;
  const pkg = JSON.parse(readFileSync(path.join(import.meta.dirname, "../../package.json"), "utf8")) as { version: string };
  const shape = catalogue.map((c) => [c.id, c.suite, c.severity, c.smoke, c.fixId ?? null, c.dependsOn]);
  version = `${pkg.version}+${createHash("sha256").update(JSON.stringify(shape)).digest("hex").slice(0, 10)}`;
  return version;
}
