import { gunicornEndpoint } from "../../probes/endpoint.ts";
import path from "node:path";
import { appWrites } from "../../probes/app-writes.ts";
import type { ProbeContext } from "../../probes/context.ts";
import { accountFor, serviceIds, userDb } from "../../probes/files.ts";
import { gunicornSettings, isLocalAddress } from "../../probes/gunicorn.ts";
import { gunicornArgv } from "../../probes/service-facts.ts";
import { uvicornArgv } from "../../probes/uvicorn.ts";
import { serviceUnit, socketUnit, unitBusPath, unitName, type Unit } from "../../probes/systemd.ts";
import type { Transport } from "../../transport/types.ts";
import { defineFix, type Action, type Fix, type FixEnv } from "../fix.ts";
import { planHandover, writeRoots, writeTargets } from "./user-paths.ts";

// The one drop-in this fix owns. systemd applies drop-ins in file-name order across all their directories, so "zz-"
// puts it after the usual names (ddv-scenario.conf, override.conf, 10-foo.conf): what it sets wins.
export const DROPIN_NAME = "zz-ddv-remediation.conf";

// The drop-in directory of a unit ("projectmeats.service" → /etc/systemd/system/projectmeats.service.d).
export const dropInDir = (unit: string) => `/etc/systemd/system/${unitName(unit)}.d`;

// One block of the drop-in per cure, so a later run replaces its own block and keeps the others.
export type BlockKey = "restart" | "success-exit-status" | "exec-start" | "user";
const ORDER: BlockKey[] = ["restart", "success-exit-status", "exec-start", "user"];
const MARK = /^# ddv:([a-z-]+)\b/;
// Keys a later drop-in would override ours with.
const KEYS = /^\s*(Restart|RestartSec|SuccessExitStatus|ExecStart|User|Group|CapabilityBoundingSet)\s*=/m;

// Splits our drop-in into its blocks (lines from a `# ddv:<key>` mark to the next); text outside blocks is dropped.
export function parseDropIn(text: string): Map<BlockKey, string[]> {
  const blocks = new Map<BlockKey, string[]>();
  let cur: string[] | undefined;
  for (const line of text.split("\n")) {
    const m = line.match(MARK);
    if (m && ORDER.includes(m[1] as BlockKey)) blocks.set(m[1] as BlockKey, (cur = [line]));
    else if (cur && line.trim() && !/^\[/.test(line)) cur.push(line);
  }
  return blocks;
}

// The drop-in's text: a header, [Service], then the blocks in a fixed order (same input, same bytes).
export function renderDropIn(blocks: Map<BlockKey, string[]>): string {
  const body = ORDER.filter((k) => blocks.has(k)).map((k) => (blocks.get(k) as string[]).join("\n"));
  return `${["# Written by `ddv remediate` (fix unit-dropin). Each block names the check it cures; edit with care.", "[Service]", ...body].join("\n")}\n`;
}

// One argv word in systemd's ExecStart= syntax: specifiers (%) doubled, C escapes for backslash and control
// characters, double quotes around anything with blanks or quotes. `$` is left alone: the original word was stored
// before systemd's exec-time variable expansion, so writing it back unchanged keeps the same expansion.
export function quoteExecArg(word: string): string {
  if (word === "") return '""';
  if (word === ";") return "\\;"; // a lone ; separates commands
  const named: Record<string, string> = { "\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r" };
  const specifiers = word.replace(/%/g, "%%");
  if (!/[\s"'\\\x00-\x1f\x7f]/.test(word)) return specifiers;
  return `"${specifiers.replace(/[\\"\x00-\x1f\x7f]/g, (c) => named[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`)}"`;
}

// systemd's ExecStartEx flags as the prefixes that spell them on an ExecStart= line.
const PREFIX: Record<string, string> = { "ignore-failure": "-", "no-env-expand": ":", privileged: "+", "no-setuid": "!", ambient: "!!" };

// An ExecStart= value from systemd's own parts: prefixes from its flags, `@path argv0` when argv[0] is not the path.
export function formatExecStart(line: { path: string; argv: string[]; flags?: string[] }): string {
  const prefix = (line.flags ?? []).map((f) => {
    const p = PREFIX[f];
    if (p === undefined) throw new Error(`ExecStart carries flag ${f}, which this fix cannot write back`);
    return p;
  });
  const [argv0, ...rest] = line.argv;
  const head = argv0 === undefined || argv0 === line.path ? [quoteExecArg(line.path)] : [`@${quoteExecArg(line.path)}`, quoteExecArg(argv0)];
  return `${prefix.join("")}${[...head, ...rest.map(quoteExecArg)].join(" ")}`;
}

// What the rewrite sets; an option not given is left as it is.
export type GunicornOverrides = { timeout?: number; gracefulTimeout?: number; binds?: string[] };

// Gunicorn's own options among argv start at this index (1 for `gunicorn ...`, after `-m gunicorn` for `python -m gunicorn ...`).
export function gunicornOptionsStart(argv: string[]): number | undefined {
  const g = gunicornArgv(argv);
  return g ? argv.length - g.length + 1 : undefined;
}

// The ExecStart argv with every spelling of the overridden options removed (`--bind X`, `--bind=X`, `-bX`, `-b X`, the
// same for --timeout/-t and --graceful-timeout) and the new values put first among Gunicorn's options. The command
// line outranks GUNICORN_CMD_ARGS and gunicorn.conf.py, so this is what Gunicorn uses. Options after `--` are not options.
export function rewriteGunicornArgv(argv: string[], set: GunicornOverrides): string[] {
  const start = gunicornOptionsStart(argv);
  if (start === undefined) throw new Error(`ExecStart does not run gunicorn (${argv.slice(0, 3).join(" ")})`);
  const drop: Record<string, string[]> = {
    bind: set.binds ? ["-b", "--bind"] : [],
    timeout: set.timeout !== undefined ? ["-t", "--timeout"] : [],
    graceful: set.gracefulTimeout !== undefined ? ["--graceful-timeout"] : [],
  };
  const flags = Object.values(drop).flat();
  const kept: string[] = [];
  let i = start;
  for (; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "--") break;
    const eq = a.indexOf("=");
    if (flags.includes(a))
      i++; // `--bind X`, `-b X`: the value goes too
    else if (a.startsWith("--") && eq > 0 && flags.includes(a.slice(0, eq))) continue;
    else if (/^-[a-zA-Z]./.test(a) && !a.startsWith("--") && flags.includes(a.slice(0, 2)))
      continue; // -bX, -t30
    else kept.push(a);
  }
  const added = [
    ...(set.binds ?? []).flatMap((b) => ["--bind", b]),
    ...(set.timeout !== undefined ? ["--timeout", String(set.timeout)] : []),
    ...(set.gracefulTimeout !== undefined ? ["--graceful-timeout", String(set.gracefulTimeout)] : []),
  ];
  return [...argv.slice(0, start), ...added, ...kept, ...argv.slice(i)];
}

// The binds to keep (loopback, unix sockets, fd://) plus the loopback address the config says Gunicorn answers on.
export function loopbackBinds(binds: string[], port: number): string[] {
  const keep = binds.filter((b) => isLocalAddress(b) || b.startsWith("fd://"));
  const want = `127.0.0.1:${port}`;
  return keep.includes(want) ? keep : [want, ...keep];
}

// ExecStart= with its flags, read over D-Bus (ExecStartEx: a(sasasttttuii)).
async function execStartEx(t: Transport, unit: string): Promise<Array<{ path: string; argv: string[]; flags: string[] }>> {
  const r = await t.run([
    "busctl",
    "--json=short",
    "get-property",
    "org.freedesktop.systemd1",
    unitBusPath(unit),
    "org.freedesktop.systemd1.Service",
    "ExecStartEx",
  ]);
  if (r.exitCode !== 0) throw new Error(`busctl get-property ${unit} ExecStartEx failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
  const v = JSON.parse(r.stdout) as { type?: string; data?: Array<[string, string[], string[]]> };
  if (v.type !== "a(sasasttttuii)" || !Array.isArray(v.data)) throw new Error(`busctl returned type ${String(v.type)} for ExecStartEx`);
  return v.data.map(([p, argv, flags]) => ({ path: p, argv, flags }));
}

// `CapabilityBoundingSet=` lines of a unit file's [Service] section (later lines add to earlier ones).
export function capabilityLines(text: string): string[] {
  return text
    .split("\n")
    .filter((l) => /^\s*CapabilityBoundingSet\s*=/.test(l))
    .map((l) => l.trim());
}

// `before`: actions the block needs done first (the paths the new User= writes handed to it).
type Cure = { key: BlockKey; lines: string[]; note?: string; before?: Action[]; notes?: string[] } | { manual: string };

async function cureRestart(): Promise<Cure> {
  return { key: "restart", lines: ["# ddv:restart (SVC-009): restart the service when it fails", "Restart=on-failure", "RestartSec=5s"] };
}

// The list is cleared; signal names and 0 / 128+N statuses (a stop, not a crash) are listed again.
async function cureSuccessExitStatus(unit: Unit): Promise<Cure> {
  const { statuses, signals } = unit.successExitStatus;
  const keep = [...statuses.filter((n) => n === 0 || n > 127), ...signals];
  const lines = ["# ddv:success-exit-status (SVC-017): an empty assignment clears the list, so a crash is a failure again", "SuccessExitStatus="];
  return { key: "success-exit-status", lines: keep.length && keep.some((k) => k !== 0) ? [...lines, `SuccessExitStatus=${keep.join(" ")}`] : lines };
}

// A Uvicorn argv with every --host on loopback (::1 for an IPv6 one), or undefined when it names no --host.
export function loopbackUvicorn(argv: string[]): string[] | undefined {
  const loop = (h: string) => (h.includes(":") ? "::1" : "127.0.0.1");
  const out = argv.map((a, i) => (argv[i - 1] === "--host" ? loop(a) : a.startsWith("--host=") ? `--host=${loop(a.slice(7))}` : a));
  return argv.some((a, i) => a.startsWith("--host=") || (a === "--host" && i + 1 < argv.length)) ? out : undefined;
}

async function cureExecStart(env: FixEnv, unit: Unit): Promise<Cure> {
  const want = { timeouts: env.ids.includes("SVC-008"), bind: env.ids.includes("SEC-007") };
  const lines = await execStartEx(env.transport, unit.id);
  if (lines.length !== 1) return { manual: `${unit.id} has ${lines.length} ExecStart= lines; this fix rewrites exactly one` };
  const line = lines[0] as { path: string; argv: string[]; flags: string[] };
  if (uvicornArgv(line.argv) && want.bind && !want.timeouts) {
    const argv = loopbackUvicorn(line.argv);
    if (!argv) return { manual: "SEC-007: Uvicorn's command line names no --host (UVICORN_HOST sets it?): make it listen on 127.0.0.1 by hand" };
    return {
      key: "exec-start",
      lines: [
        "# ddv:exec-start (SEC-007): Uvicorn listens on loopback, nginx faces the network",
        "ExecStart=",
        `ExecStart=${formatExecStart({ ...line, argv })}`,
      ],
    };
  }
  if (gunicornOptionsStart(line.argv) === undefined) return { manual: `ExecStart does not run gunicorn (${line.argv.slice(0, 3).join(" ")})` };
  const g = await gunicornSettings(env.ctx);
  const set: GunicornOverrides = {};
  let note: string | undefined;
  // Today's effective values, made explicit: Gunicorn keeps behaving the same, and the timeouts are now a decision.
  if (want.timeouts) Object.assign(set, { timeout: g.timeout, gracefulTimeout: g.gracefulTimeout });
  const sock = want.bind ? await socketUnit(env.ctx) : undefined;
  if (sock)
    // Gunicorn serves the sockets systemd hands it: a --bind in a drop-in would change nothing.
    note =
      `SEC-007: Gunicorn is socket-activated by ${sock.id}; set ListenStream= there to a loopback address or a unix ` +
      `socket path (systemctl edit ${sock.id}), then systemctl restart ${sock.id} ${unitName(env.config.service)}`;
  else if (want.bind) {
    const port = (await gunicornEndpoint(env.ctx)).port ?? 8000;
    if (g.bind.every((b) => isLocalAddress(b) || b.startsWith("fd://")))
      note = `SEC-007: Gunicorn already binds only ${g.bind.join(", ")}; what listens publicly is not its bind, so the drop-in cannot cure it`;
    else set.binds = loopbackBinds(g.bind, port);
  }
  if (!Object.keys(set).length) return { manual: note ?? "nothing to change on Gunicorn's command line" };
  const cured = [want.timeouts ? "SVC-008" : "", set.binds ? "SEC-007" : ""].filter(Boolean).join(", ");
  const argv = rewriteGunicornArgv(line.argv, set);
  return {
    key: "exec-start",
    lines: [
      `# ddv:exec-start (${cured}): command-line options outrank GUNICORN_CMD_ARGS and gunicorn.conf.py`,
      "ExecStart=",
      `ExecStart=${formatExecStart({ ...line, argv })}`,
    ],
    note,
  };
}

async function cureUser(env: FixEnv, unit: Unit): Promise<Cure> {
  const t = env.transport;
  const dir = env.config.projectDir;
  const st = await t.run(["stat", "-c", "%U %G", "--", dir]);
  if (st.exitCode !== 0) return { manual: `cannot read the owner of ${dir} (${st.stderr.trim()}): set User=/Group= to the service's own account by hand` };
  const [owner = "", dirGroup = ""] = st.stdout.trim().split(" ");
  if (!owner || owner === "root" || owner === "UNKNOWN")
    return {
      manual:
        `${dir} is owned by ${owner || "nobody"}, so the service's account cannot be told from it: ` +
        `expected a non-root account that owns ${dir} (ProjectMeats: projectmeats, group www-data); create it, chown the code, then set User=/Group=`,
    };
  let group = dirGroup;
  if (!group || group === "root" || group === "UNKNOWN") {
    const id = await t.run(["id", "-gn", "--", owner]);
    group = id.exitCode === 0 ? id.stdout.trim() : "";
    if (!group || group === "root") return { manual: `${owner}'s primary group is ${group || "unknown"}: set Group= to the service's group by hand` };
  }
  const db = await userDb(env.ctx);
  const who = accountFor(db, owner, group);
  const gid = db.groups.get(group)?.gid;
  if (!who || gid === undefined) return { manual: `${owner}:${group} is not in /etc/passwd and /etc/group: set User=/Group= by hand` };
  // What the service wrote as root stays root's: hand every path it writes to the new account, or its first start fails.
  const from = (await serviceIds(env.ctx)).uid;
  const writes = await appWrites(env.ctx);
  const handover = await planHandover(t, writes, env.config.logDir, db, who, { uid: who.uid, gid, takeOwner: true }, from);
  const lines = [`# ddv:user (SEC-008): the owner of ${dir}, not root`, `User=${owner}`, `Group=${group}`];
  // A drop-in that widened the capability bounding set (for root's sake) is undone: back to the unit file's own value.
  const others = unit.dropIns.filter((p) => path.basename(p) !== DROPIN_NAME);
  const widened = [];
  for (const p of others) if (capabilityLines(await t.readFile(p)).length) widened.push(p);
  if (widened.length) {
    const own = unit.fragmentPath ? capabilityLines(await t.readFile(unit.fragmentPath)) : [];
    lines.push(
      `# ${widened.join(", ")} set CapabilityBoundingSet=: reset, then the unit file's own value`,
      "CapabilityBoundingSet=",
      ...own.filter((l) => l !== "CapabilityBoundingSet="),
    );
  }
  return { key: "user", lines, before: handover.actions, notes: handover.notes };
}

// The paths the user fix may hand over: what the app writes and the log directory (nothing unless SEC-008 is asked).
async function userRoots(ctx: ProbeContext, ids: string[]): Promise<string[]> {
  if (!ids.includes("SEC-008")) return [];
  return writeRoots(writeTargets((await appWrites(ctx)).paths, ctx.config.logDir));
}

// The unit drop-in: Restart=, SuccessExitStatus= cleared, Gunicorn's timeouts and loopback bind on the command
// line, a non-root User=/Group=; then daemon-reload and `systemd-analyze verify` before the runner restarts the app.
export const unitDropIn = defineFix({
  id: "unit-dropin",
  title: "Write the unit drop-in that restores Restart=, SuccessExitStatus=, Gunicorn's timeouts and bind, and a non-root User=",
  rank: 60,
  restartsApp: true,
  touches: async ({ config, ctx, ids }) => ({ files: [dropInDir(config.service), ...(await userRoots(ctx, ids))], units: [unitName(config.service)] }),
  async plan(env) {
    const t = env.transport;
    const unit = await serviceUnit(env.ctx);
    if (unit.loadState !== "loaded") return { manual: `${unit.id} is ${unit.loadState || "not installed"}: a drop-in needs the unit` };
    const dir = dropInDir(env.config.service);
    const file = `${dir}/${DROPIN_NAME}`;

    // A drop-in named after ours would override what we set: merging it is the operator's call.
    for (const p of unit.dropIns.filter((x) => path.basename(x) > DROPIN_NAME)) {
      if (KEYS.test(await t.readFile(p))) return { manual: `${p} sorts after ${DROPIN_NAME} and sets what this fix would set: merge it by hand` };
    }

    const cures: Cure[] = [];
    if (env.ids.includes("SVC-009")) cures.push(await cureRestart());
    if (env.ids.includes("SVC-017")) cures.push(await cureSuccessExitStatus(unit));
    if (env.ids.includes("SVC-008") || env.ids.includes("SEC-007")) cures.push(await cureExecStart(env, unit));
    if (env.ids.includes("SEC-008")) cures.push(await cureUser(env, unit));
    const manual = cures.filter((c): c is { manual: string } => "manual" in c).map((c) => c.manual);
    const blocks = cures.filter((c): c is Exclude<Cure, { manual: string }> => "key" in c);
    const notes = blocks.flatMap((b) => [...(b.note ? [b.note] : []), ...(b.notes ?? [])]);
    if (!blocks.length) return { manual: manual.join("; ") || `nothing in ${file} cures ${env.ids.join(", ")}` };

    const dirStat = await t.stat(dir);
    const before = (await t.stat(file)) ? await t.readFile(file) : "";
    const merged = parseDropIn(before);
    for (const b of blocks) merged.set(b.key, b.lines);
    const content = renderDropIn(merged);
    if (content === before)
      return { manual: `${file} already says this, yet ${env.ids.join(", ")} fail: another source overrides it (systemctl cat ${unit.id})` };

    const actions: Action[] = blocks.flatMap((b) => b.before ?? []);
    if (!dirStat) actions.push({ kind: "mkdir", path: dir, mode: 0o755, owner: "root", group: "root" });
    actions.push({ kind: "write", path: file, content, mode: 0o644, owner: "root", group: "root" });
    actions.push({ kind: "daemon-reload" });
    actions.push({ kind: "validate", argv: ["systemd-analyze", "verify", unit.id], show: `systemd-analyze verify ${unit.id}` });
    return { actions, notes: [...manual.map((m) => `not cured here: ${m}`), ...notes] };
  },
});

// The unit fixes, listed in fixes/index.ts.
export const unitFixes: Fix[] = [unitDropIn];
