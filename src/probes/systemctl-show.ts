import { type CommandResult, type Transport, TransportError } from "../transport/types.ts";

// One unit's properties as `systemctl show` prints them (KEY=value lines). A key systemd prints more than once
// (EnvironmentFiles=, Listen=) keeps every value, in order.
export class ShownUnit extends Map<string, string[]> {
  // The property's (first) value; "" when systemd printed none.
  one(key: string): string {
    return this.get(key)?.[0] ?? "";
  }
}

// Splits `systemctl show` output (blank line between units) into one property map per unit, in systemctl's order.
export function parseShow(text: string): ShownUnit[] {
  return text
    .split(/\n\n+/)
    .filter((b) => b.trim())
    .map((block) => {
      const m = new ShownUnit();
      for (const line of block.split("\n")) {
        const i = line.indexOf("=");
        if (i > 0) m.set(line.slice(0, i), [...(m.get(line.slice(0, i)) ?? []), line.slice(i + 1)]);
      }
      return m;
    });
}

// Where systemd is not PID 1, systemctl says so in two lines ("System has not been booted with systemd…", "Failed to
// connect to bus: Host is down"): one short line instead, with its own code (the run's start explains it once).
export function systemctlFailed(what: string, r: Pick<CommandResult, "exitCode" | "stderr">): TransportError {
  if (/has not been booted with systemd|Failed to connect to bus: Host is down/.test(r.stderr))
    return new TransportError("systemd is not running on this host (PID 1 is not systemd): systemctl cannot answer", "ENOSYSTEMD");
  return new TransportError(`${what} failed (exit ${r.exitCode}): ${r.stderr.trim().replace(/\s*\n\s*/g, "; ")}`, "ESYSTEMCTL");
}

// `props` of each of `units`, in one `systemctl show`: one ShownUnit per unit, in the order asked. A unit systemd does
// not know still answers (LoadState=not-found); a non-zero exit throws systemctlFailed, quoting what systemctl said.
export async function showProperties(t: Transport, units: string[], props: string[], timeoutMs?: number): Promise<ShownUnit[]> {
  if (!units.length) return [];
  const r = await t.run(["systemctl", "show", "--no-pager", ...units, "-p", props.join(",")], timeoutMs ? { timeoutMs } : undefined);
  if (r.exitCode !== 0) throw systemctlFailed(`systemctl show ${units.length <= 4 ? units.join(" ") : `(${units.length} units)`}`, r);
  return parseShow(r.stdout);
}
