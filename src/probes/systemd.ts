import { TransportError } from "../transport/types.ts";
import type { ProbeContext } from "./context.ts";

// Every property the checks read, fetched for all units in one `systemctl show`.
const PROPS = [
  "Id", "LoadState", "ActiveState", "SubState", "Result", "ExecMainStatus", "ExecMainCode", "NRestarts", "MainPID",
  "User", "Group", "WorkingDirectory", "Environment", "EnvironmentFiles", "ExecStart", "DropInPaths", "FragmentPath",
  "UnitFileState", "InvocationID", "Restart", "ControlGroup", "SuccessExitStatus",
];

export type Unit = {
  id: string;
  loadState: string;
  activeState: string;
  subState: string;
  result: string;
  execMainStatus: number;
  nRestarts: number;
  mainPid: number;
  user: string;
  group: string;
  workingDirectory: string;
  environment: Record<string, string>;
  environmentFiles: Array<{ path: string; optional: boolean }>;
  execStart: { path: string; argv: string[] } | undefined;
  dropIns: string[];
  fragmentPath: string;
  unitFileState: string;
  invocationId: string;
  restart: string;
  controlGroup: string;
};

// Splits `systemctl show` output (blank line between units) into one property map per unit; repeated keys accumulate.
export function parseShow(text: string): Array<Map<string, string[]>> {
  return text
    .split(/\n\n+/)
    .filter((b) => b.trim())
    .map((block) => {
      const m = new Map<string, string[]>();
      for (const line of block.split("\n")) {
        const i = line.indexOf("=");
        if (i > 0) m.set(line.slice(0, i), [...(m.get(line.slice(0, i)) ?? []), line.slice(i + 1)]);
      }
      return m;
    });
}

// Splits a systemd Environment= value ("A=1 B=\"x y\"") into a map.
export function parseEnvironment(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of value.matchAll(/(?:"([^"]*)"|(\S+))/g)) {
    const kv = m[1] ?? m[2] ?? "";
    const i = kv.indexOf("=");
    if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

function toUnit(m: Map<string, string[]>): Unit {
  const one = (k: string) => m.get(k)?.[0] ?? "";
  const exec = one("ExecStart").match(/path=(\S+) ; argv\[\]=(.*?) ; ignore_errors=/);
  return {
    id: one("Id"),
    loadState: one("LoadState"),
    activeState: one("ActiveState"),
    subState: one("SubState"),
    result: one("Result"),
    execMainStatus: Number(one("ExecMainStatus") || 0),
    nRestarts: Number(one("NRestarts") || 0),
    mainPid: Number(one("MainPID") || 0),
    user: one("User"),
    group: one("Group"),
    workingDirectory: one("WorkingDirectory").replace(/^!?-?/, ""),
    environment: parseEnvironment(one("Environment")),
    environmentFiles: (m.get("EnvironmentFiles") ?? []).filter(Boolean).map((v) => {
      const path = v.replace(/ \(ignore_errors=(yes|no)\)$/, "");
      return { path: path.replace(/^-/, ""), optional: / \(ignore_errors=yes\)$/.test(v) || path.startsWith("-") };
    }),
    execStart: exec ? { path: exec[1] as string, argv: (exec[2] as string).split(" ") } : undefined,
    dropIns: one("DropInPaths").split(" ").filter(Boolean),
    fragmentPath: one("FragmentPath"),
    unitFileState: one("UnitFileState"),
    invocationId: one("InvocationID"),
    restart: one("Restart"),
    controlGroup: one("ControlGroup"),
  };
}

function unitNames(ctx: ProbeContext): string[] {
  const { service, dependencies } = ctx.config;
  return [service, dependencies.postgresql, ...(dependencies.nginx ? [dependencies.nginx] : [])].map((u) => (u.includes(".") ? u : `${u}.service`));
}

// The service and its dependencies (postgresql, nginx), keyed by the names in the config.
export function showUnits(ctx: ProbeContext): Promise<Map<string, Unit>> {
  return ctx.once("systemd:show", async () => {
    const names = unitNames(ctx);
    const r = await ctx.transport.run(["systemctl", "show", "--no-pager", ...names, "-p", PROPS.join(",")]);
    if (r.exitCode !== 0) throw new TransportError(`systemctl show failed (exit ${r.exitCode}): ${r.stderr.trim()}`, "ESYSTEMCTL");
    const units = parseShow(r.stdout).map(toUnit);
    return new Map(names.map((n, i) => [n.replace(/\.service$/, ""), units[i] as Unit]));
  });
}

// The Django service unit.
export async function serviceUnit(ctx: ProbeContext): Promise<Unit> {
  const unit = (await showUnits(ctx)).get(ctx.config.service.replace(/\.service$/, ""));
  if (!unit) throw new TransportError(`systemctl show returned nothing for ${ctx.config.service}`);
  return unit;
}

// The value of a gunicorn option in the unit's ExecStart (`--bind X` or `--bind=X`), or undefined.
export function execOption(unit: Unit, flag: string): string | undefined {
  const argv = unit.execStart?.argv ?? [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === flag) return argv[i + 1];
    if (a.startsWith(`${flag}=`)) return a.slice(flag.length + 1);
    if (/^-\w$/.test(flag) && a.startsWith(flag) && a.length > 2) return a.slice(2); // -w4
  }
  return undefined;
}

function count(unit: Unit, what: string, value: string | undefined): number {
  const n = Number(value ?? 1);
  if (!Number.isInteger(n) || n < 1) throw new Error(`cannot read the ${what} count from ExecStart (${JSON.stringify(value)})`);
  return n;
}

// Gunicorn's worker processes and threads per worker, as it would compute them from the unit:
// the flag, else WEB_CONCURRENCY, else gunicorn's default of 1 (a gunicorn.conf.py is not read).
export function gunicornConcurrency(unit: Unit): { workers: number; threads: number } {
  return {
    workers: count(unit, "worker", execOption(unit, "--workers") ?? execOption(unit, "-w") ?? unit.environment.WEB_CONCURRENCY),
    threads: count(unit, "thread", execOption(unit, "--threads")),
  };
}

// The WSGI target in ExecStart ("projectmeats.wsgi:application"), if any.
export function wsgiModule(unit: Unit): string | undefined {
  return unit.execStart?.argv.slice(1).find((a) => /^[A-Za-z_][\w.]*:[A-Za-z_]\w*(\(.*\))?$/.test(a))?.split(":")[0];
}

// `systemd-analyze verify` findings for the unit (stderr lines), empty when clean.
export function verifyUnit(ctx: ProbeContext): Promise<{ exitCode: number; findings: string[] }> {
  return ctx.once("systemd:verify", async () => {
    const r = await ctx.transport.run(["systemd-analyze", "verify", `${ctx.config.service.replace(/\.service$/, "")}.service`]);
    const findings = r.stderr.split("\n").map((l) => l.trim()).filter(Boolean);
    return { exitCode: r.exitCode, findings };
  });
}

// Overall exposure score from `systemd-analyze security` (0 = locked down, 10 = exposed).
export function securityExposure(ctx: ProbeContext): Promise<{ score: number; worst: string[] }> {
  return ctx.once("systemd:security", async () => {
    const r = await ctx.transport.run(["systemd-analyze", "security", "--no-pager", `${ctx.config.service.replace(/\.service$/, "")}.service`]);
    const m = r.stdout.match(/Overall exposure level for \S+: ([\d.]+)/);
    if (!m) throw new TransportError(`systemd-analyze security printed no exposure level (exit ${r.exitCode}): ${ctx.clip(r.stderr.trim(), 200)}`);
    const worst = r.stdout.split("\n").filter((l) => l.startsWith("✗") && /\d\.\d\s*$/.test(l)).map((l) => l.replace(/\s{2,}/g, " | ").slice(2)).slice(0, 5);
    return { score: Number(m[1]), worst };
  });
}

// Journal messages of the service's current invocation (since its current start).
export function currentJournal(ctx: ProbeContext): Promise<string[]> {
  return ctx.once("systemd:journal", async () => {
    const unit = await serviceUnit(ctx);
    if (!unit.invocationId) return [];
    const r = await ctx.transport.run(["journalctl", "--no-pager", "-o", "json", "--output-fields=MESSAGE", `_SYSTEMD_INVOCATION_ID=${unit.invocationId}`]);
    if (r.exitCode !== 0) throw new TransportError(`journalctl failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
    return r.stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => {
        const msg = (JSON.parse(l) as { MESSAGE?: string | number[] }).MESSAGE;
        return Array.isArray(msg) ? Buffer.from(msg).toString("utf8") : (msg ?? "");
      });
  });
}
