import { TransportError } from "../transport/types.ts";
import type { ProbeContext } from "./context.ts";
import { type ShownUnit, showProperties } from "./systemctl-show.ts";

// Every property the checks read, fetched for all units in one `systemctl show`.
const PROPS = [
  "Id",
  "LoadState",
  "ActiveState",
  "SubState",
  "Result",
  "ExecMainStatus",
  "ExecMainCode",
  "NRestarts",
  "MainPID",
  "User",
  "Group",
  "WorkingDirectory",
  "Environment",
  "EnvironmentFiles",
  "ExecStart",
  "DropInPaths",
  "FragmentPath",
  "UnitFileState",
  "InvocationID",
  "Restart",
  "ControlGroup",
  "SuccessExitStatus",
  "CPUQuotaPerSecUSec",
  "ConsistsOf",
  "TriggeredBy",
  "Triggers",
  "Type",
  "RuntimeDirectory",
  "Listen",
  "SocketUser",
  "SocketGroup",
  "SocketMode",
  "Requires",
];

// One ExecStart= line as systemd holds it: the binary and its argv, already unquoted and unescaped by systemd.
export type ExecLine = { path: string; argv: string[] };

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
  // The Gunicorn line (the one whose argv mentions gunicorn), else the last ExecStart= line.
  execStart: ExecLine | undefined;
  // Every ExecStart= line, in order (oneshot units may have several).
  execStarts: ExecLine[];
  dropIns: string[];
  fragmentPath: string;
  unitFileState: string;
  invocationId: string;
  restart: string;
  controlGroup: string;
  // CPUQuota= as CPUs (0.5 for 50%), undefined when unlimited.
  cpuQuota: number | undefined;
  // SuccessExitStatus=: the exit statuses and signal names (without SIG) systemd counts as a clean exit.
  successExitStatus: { statuses: number[]; signals: string[] };
  // Units that are PartOf= this one (ConsistsOf=): Debian's postgresql.service consists of postgresql@15-main.service.
  consistsOf: string[];
  // Units that start this one: a socket-activated service names its .socket here.
  triggeredBy: string[];
  // What a socket unit starts; a service's Type= and RuntimeDirectory= (kept by emergency-reset).
  triggers: string[];
  type: string;
  runtimeDirectory: string[];
  // A socket unit's listeners (Listen=: "/run/gunicorn.sock (Stream)"), and who may connect to a unix one.
  listen: Array<{ address: string; type: string }>;
  socketUser: string;
  socketGroup: string;
  socketMode: number | undefined;
  // Units this one Requires= (a socket-activated service names its .socket here even when that unit is gone).
  requires: string[];
};

// SuccessExitStatus= as `systemctl show` prints it on systemd 252: "0 1 2 USR1" (statuses, then signal names).
export function parseSuccessExitStatus(value: string): { statuses: number[]; signals: string[] } {
  const words = value.split(/\s+/).filter(Boolean);
  return { statuses: words.filter((w) => /^\d+$/.test(w)).map(Number), signals: words.filter((w) => !/^\d+$/.test(w)) };
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

// A systemd time span as `systemctl show` prints it ("500ms", "1.500000s", "1min 30s") in seconds; undefined for infinity.
export function parseTimespan(text: string): number | undefined {
  const units: Record<string, number> = { us: 1e-6, ms: 1e-3, s: 1, min: 60, h: 3600 };
  const parts = [...text.trim().matchAll(/(\d+(?:\.\d+)?)(us|ms|s|min|h)\b/g)];
  if (!parts.length) return undefined;
  return parts.reduce((sum, p) => sum + Number(p[1]) * (units[p[2] as string] as number), 0);
}

// Parses `busctl --json=short get-property ... ExecStart` (type a(sasbttttuii)): one entry per ExecStart= line.
export function parseBusExecStart(text: string): ExecLine[] {
  const v = JSON.parse(text) as { type?: string; data?: unknown };
  if (v.type !== "a(sasbttttuii)" || !Array.isArray(v.data))
    throw new TransportError(`busctl returned type ${String(v.type)} for ExecStart, expected a(sasbttttuii)`, "EBUSCTL");
  return (v.data as Array<[string, string[]]>).map(([path, argv]) => ({ path, argv }));
}

// The Gunicorn line: the one whose argv mentions gunicorn, else the last.
export function pickExecStart(lines: ExecLine[]): ExecLine | undefined {
  return lines.find((l) => [l.path, ...l.argv].some((a) => a.includes("gunicorn"))) ?? lines[lines.length - 1];
}

// A unit name as systemd completes it: `postgresql` and `postgresql.service` both name postgresql.service.
export function unitName(name: string): string {
  return /\.(service|socket|target|timer|mount|automount|swap|path|slice|scope|device)$/.test(name) ? name : `${name}.service`;
}

// The unit's D-Bus object path: bytes outside [A-Za-z0-9] (and a leading digit) become _xx, as sd_bus_path_encode does.
export function unitBusPath(name: string): string {
  let out = "";
  for (const [i, b] of [...Buffer.from(name, "utf8")].entries()) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z]/.test(c) || (i > 0 && /[0-9]/.test(c)) ? c : `_${b.toString(16).padStart(2, "0")}`;
  }
  return `/org/freedesktop/systemd1/unit/${out || "_"}`;
}

function toUnit(m: ShownUnit, execStarts: ExecLine[]): Unit {
  const one = (k: string) => m.one(k);
  const quota = parseTimespan(one("CPUQuotaPerSecUSec"));
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
    execStart: pickExecStart(execStarts),
    execStarts,
    dropIns: one("DropInPaths").split(" ").filter(Boolean),
    fragmentPath: one("FragmentPath"),
    unitFileState: one("UnitFileState"),
    invocationId: one("InvocationID"),
    restart: one("Restart"),
    controlGroup: one("ControlGroup"),
    cpuQuota: quota,
    successExitStatus: parseSuccessExitStatus(one("SuccessExitStatus")),
    consistsOf: one("ConsistsOf").split(/\s+/).filter(Boolean),
    triggeredBy: one("TriggeredBy").split(/\s+/).filter(Boolean),
    triggers: one("Triggers").split(/\s+/).filter(Boolean),
    type: one("Type"),
    runtimeDirectory: one("RuntimeDirectory").split(/\s+/).filter(Boolean),
    listen: (m.get("Listen") ?? []).flatMap((v) => {
      const l = v.match(/^(.*) \((\w+)\)$/);
      return l ? [{ address: l[1] as string, type: l[2] as string }] : [];
    }),
    socketUser: one("SocketUser"),
    socketGroup: one("SocketGroup"),
    socketMode: one("SocketMode") ? Number.parseInt(one("SocketMode"), 8) : undefined,
    requires: one("Requires").split(/\s+/).filter(Boolean),
  };
}

function unitNames(ctx: ProbeContext): string[] {
  const { service, dependencies } = ctx.config;
  return [service, dependencies.postgresql, ...(dependencies.nginx ? [dependencies.nginx] : [])].map(unitName);
}

// Units keyed by full name; `get("postgresql")` and `get("postgresql.service")` find the same unit.
export class UnitMap extends Map<string, Unit> {
  // Set when the service was idle behind its socket and the validator's request started it: how that went.
  woken?: string;
  override get(name: string): Unit | undefined {
    return super.get(unitName(name));
  }
  override has(name: string): boolean {
    return super.has(unitName(name));
  }
}

// ExecStart= of one unit from systemd's own argv arrays (no re-splitting of `systemctl show` text).
async function busExecStart(ctx: ProbeContext, name: string): Promise<ExecLine[] | Error> {
  const path = unitBusPath(name);
  try {
    const r = await ctx.transport.run([
      "busctl",
      "--json=short",
      "get-property",
      "org.freedesktop.systemd1",
      path,
      "org.freedesktop.systemd1.Service",
      "ExecStart",
    ]);
    if (r.exitCode !== 0) return new TransportError(`busctl get-property ${path} ExecStart failed (exit ${r.exitCode}): ${r.stderr.trim()}`, "EBUSCTL");
    return parseBusExecStart(r.stdout);
  } catch (err) {
    return err as Error;
  }
}

// The service and its dependencies (postgresql, nginx), one `systemctl show` and, alongside it, ExecStart over D-Bus;
// then the parts of a dependency that is an umbrella (Debian's postgresql.service is /bin/true and stays active while
// its cluster unit postgresql@15-main is down), in one more `systemctl show`. A glob cannot fetch the parts in the first
// call: systemd 252 matches `postgresql@*` against active units only, so a stopped cluster would not be listed.
export function showUnits(ctx: ProbeContext): Promise<UnitMap> {
  return ctx.once("systemd:show", async () => {
    const units = await readUnits(ctx);
    // A socket-activated service that is idle (its socket listening) is woken as a visitor would, by one request
    // through the socket, and then described as it runs: every check judges the running app.
    const service = units.get(ctx.config.service);
    const sock = service?.triggeredBy.find((u) => u.endsWith(".socket"));
    const socket = sock ? units.get(sock) : undefined;
    // A failed service too: the next visitor's connection starts it again (unless systemd's start limit refuses).
    if (!service || !socket || !["inactive", "failed"].includes(service.activeState) || socket.activeState !== "active") return units;
    const { wakeThroughSocket } = await import("./wake.ts");
    const how = await wakeThroughSocket(ctx, socket, service.activeState === "failed" ? `failed (${service.result})` : "idle");
    const again = await readUnits(ctx);
    again.woken = how;
    return again;
  });
}

async function readUnits(ctx: ProbeContext): Promise<UnitMap> {
  const names = unitNames(ctx);
  const [shown, ...execs] = await Promise.all([showProperties(ctx.transport, names, PROPS), ...names.map((n) => busExecStart(ctx, n))]);
  const units = new UnitMap();
  names.forEach((n, i) => {
    const m = shown[i];
    const exec = execs[i];
    if (!m) return; // serviceUnit() says systemctl returned nothing for it
    const unit = toUnit(m, exec instanceof Error ? [] : (exec ?? []));
    // A unit systemd does not know has no ExecStart to read. For a loaded one, not reading it is an error, but only
    // for the checks that read ExecStart (a host without a system bus still gets every other answer).
    if (exec instanceof Error && unit.loadState === "loaded") {
      const unreadable = {
        enumerable: true,
        get: (): never => {
          throw exec;
        },
      };
      Object.defineProperties(unit, { execStart: unreadable, execStarts: unreadable });
    }
    units.set(n, unit);
  });
  const service = unitName(ctx.config.service);
  // Also the socket units that start the service (socket activation), read in the same second call.
  // A service whose unit is gone names no socket: <service>.socket then (emergency-reset keeps socket activation).
  const svc = units.get(service);
  const sockets = svc?.loadState === "loaded" ? svc.triggeredBy.filter((u) => u.endsWith(".socket")) : [service.replace(/\.service$/, ".socket")];
  const umbrellas = names.filter((n) => n !== service).flatMap((n) => units.get(n)?.consistsOf ?? []);
  const parts = [...new Set([...umbrellas, ...sockets])].filter((p) => !units.has(p));
  if (parts.length) {
    // Keyed by Id; a part systemctl did not describe stays absent, and its check says so.
    for (const m of await showProperties(ctx.transport, parts, PROPS)) {
      const unit = toUnit(m, []);
      if (parts.includes(unit.id)) units.set(unit.id, unit);
    }
  }
  return units;
}

// The Django service unit.
export async function serviceUnit(ctx: ProbeContext): Promise<Unit> {
  const unit = (await showUnits(ctx)).get(ctx.config.service);
  if (!unit) throw new TransportError(`systemctl show returned nothing for ${ctx.config.service}`);
  return unit;
}

// The service's working directory: WorkingDirectory=, else (a unit that names none, or is gone) where manage.py is:
// projectDir/backend (ProjectMeats' layout) or projectDir itself.
export async function workingDirectory(ctx: ProbeContext, unit: Pick<Unit, "workingDirectory">): Promise<string> {
  if (unit.workingDirectory) return unit.workingDirectory;
  const backend = `${ctx.config.projectDir}/backend`;
  return (await ctx.transport.stat(`${backend}/manage.py`))?.isFile
    ? backend
    : (await ctx.transport.stat(`${ctx.config.projectDir}/manage.py`))?.isFile
      ? ctx.config.projectDir
      : backend;
}

// The socket unit that starts the service (socket activation), if any.
export async function socketUnit(ctx: ProbeContext): Promise<Unit | undefined> {
  const [units, service] = await Promise.all([showUnits(ctx), serviceUnit(ctx)]);
  const name = service.triggeredBy.find((u) => u.endsWith(".socket"));
  if (name) return units.get(name);
  // A service whose unit is gone or no longer names its socket: the socket that says it starts it.
  const own = units.get(unitName(ctx.config.service).replace(/\.service$/, ".socket"));
  return own?.loadState === "loaded" && own.triggers.includes(unitName(ctx.config.service)) ? own : undefined;
}

// The WSGI target in ExecStart ("projectmeats.wsgi:application"), if any.
export function wsgiModule(unit: Unit): string | undefined {
  return unit.execStart?.argv
    .slice(1)
    .find((a) => /^[A-Za-z_][\w.]*:[A-Za-z_]\w*(\(.*\))?$/.test(a))
    ?.split(":")[0];
}

// `systemd-analyze verify` findings for the unit (stderr lines), empty when clean.
export function verifyUnit(ctx: ProbeContext): Promise<{ exitCode: number; findings: string[] }> {
  return ctx.once("systemd:verify", async () => {
    const r = await ctx.transport.run(["systemd-analyze", "verify", unitName(ctx.config.service)]);
    const findings = r.stderr
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean);
    return { exitCode: r.exitCode, findings };
  });
}

// Parses `systemd-analyze security` text: the overall level and the exposed items, heaviest first (by the EXPOSURE
// column, each item's weighted share of the score; ties keep the table's order). A long name fills its column and
// leaves one space before the description, so the row is split on whitespace around the name and the last number. `--json=short` exists on systemd 252
// but carries no overall level, so the table (same per-item numbers) is read instead of running the tool twice.
export function parseSecurity(text: string): { score: number; worst: string[] } | undefined {
  const m = text.match(/Overall exposure level for \S+: ([\d.]+)/);
  if (!m) return undefined;
  const items = text
    .split("\n")
    .map((l) => l.match(/^✗ (\S+)\s+(.*?)\s+(\d+(?:\.\d+)?)\s*$/))
    .filter((r): r is RegExpMatchArray => r !== null)
    .map((r) => ({ name: r[1] as string, description: r[2] as string, exposure: Number(r[3]) }));
  const sorted = items.map((it, i) => ({ ...it, i })).sort((a, b) => b.exposure - a.exposure || a.i - b.i);
  return { score: Number(m[1]), worst: sorted.map((it) => `${it.name} ${it.exposure.toFixed(1)} (${it.description})`) };
}

// Overall exposure score from `systemd-analyze security` (0 = locked down, 10 = exposed) and its heaviest items.
export function securityExposure(ctx: ProbeContext): Promise<{ score: number; worst: string[] }> {
  return ctx.once("systemd:security", async () => {
    const r = await ctx.transport.run(["systemd-analyze", "security", "--no-pager", unitName(ctx.config.service)]);
    const parsed = parseSecurity(r.stdout);
    if (!parsed) throw new TransportError(`systemd-analyze security printed no exposure level (exit ${r.exitCode}): ${ctx.clip(r.stderr.trim(), 200)}`);
    return parsed;
  });
}

// The journal is read from its newest end, at most this many entries (a busy service logs millions since its start).
export const JOURNAL_MAX_ENTRIES = 10_000;
// And at most this many bytes of journalctl's JSON (about 350 bytes an entry).
export const JOURNAL_MAX_BYTES = 8 * 1024 * 1024;

// Message lines of the current invocation; `capped` says why (and how) older lines were not read, when they were not.
export type JournalLines = string[] & { capped?: string };

// Turns `journalctl -o json` output into message lines (multi-line messages split), oldest first. `truncated`: the
// transport cut the output, so the last line is partial and dropped; more than `maxEntries` entries: the oldest is dropped.
export function parseJournal(stdout: string, truncated: boolean, maxEntries = JOURNAL_MAX_ENTRIES, maxBytes = JOURNAL_MAX_BYTES): JournalLines {
  const raw = stdout.split("\n");
  if (truncated) raw.pop(); // cut mid-entry: the last piece is not a whole JSON line
  let entries = raw.filter(Boolean);
  const notes: string[] = [];
  if (entries.length > maxEntries) {
    entries = entries.slice(entries.length - maxEntries);
    notes.push(`only the newest ${maxEntries} entries were read`);
  }
  if (truncated) notes.push(`journalctl's output passed ${maxBytes} bytes, so only the oldest ${entries.length} of the newest ${maxEntries} entries were read`);
  const lines: JournalLines = entries.flatMap((l, i) => {
    let msg: unknown;
    try {
      msg = (JSON.parse(l) as { MESSAGE?: unknown }).MESSAGE;
    } catch {
      throw new TransportError(`journalctl printed a line that is not JSON (entry ${i + 1}, ${l.length} bytes)`, "EJOURNAL");
    }
    const text = Array.isArray(msg) ? Buffer.from(msg as number[]).toString("utf8") : typeof msg === "string" ? msg : "";
    return text.split("\n");
  });
  if (notes.length) lines.capped = notes.join("; ");
  return lines;
}

// Journal message lines of the service's current invocation (since its current start), newest JOURNAL_MAX_ENTRIES
// entries at most; `capped` is set when older entries were left unread.
export function currentJournal(ctx: ProbeContext): Promise<JournalLines> {
  return ctx.once("systemd:journal", async () => {
    const unit = await serviceUnit(ctx);
    if (!unit.invocationId) return [];
    // One more than the cap: receiving it proves there were more entries than we judge.
    const argv = [
      "journalctl",
      "--no-pager",
      "-o",
      "json",
      "--output-fields=MESSAGE",
      "-n",
      String(JOURNAL_MAX_ENTRIES + 1),
      `_SYSTEMD_INVOCATION_ID=${unit.invocationId}`,
    ];
    const r = await ctx.transport.run(argv, { maxOutputBytes: JOURNAL_MAX_BYTES });
    if (r.exitCode !== 0) throw new TransportError(`journalctl failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
    return parseJournal(r.stdout, r.truncated === true);
  });
}
