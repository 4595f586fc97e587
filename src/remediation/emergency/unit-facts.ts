import { gunicornEndpoint, listenBind } from "../../probes/endpoint.ts";
import type { ProbeContext } from "../../probes/context.ts";
import { userDb } from "../../probes/files.ts";
import path from "node:path";
import { appWrites } from "../../probes/app-writes.ts";
import { argvOptions } from "../../probes/gunicorn.ts";
import { gunicornArgv } from "../../probes/service-facts.ts";
import { socketUnit, unitName, wsgiModule, type Unit } from "../../probes/systemd.ts";
import { EXIT, RemediateError } from "../errors.ts";
import { planSocket } from "./socket-unit.ts";
import { DEFAULT_WORKER_ARGS, type UnitFacts } from "./unit-file.ts";

// Gunicorn's worker options an emergency reset keeps: the flags (first is how the unit writes it).
const WORKER_FLAGS: Array<[string[], string]> = [
  [["--workers", "-w"], "--workers"],
  [["--worker-class", "-k"], "--worker-class"],
  [["--threads"], "--threads"],
  [["--max-requests"], "--max-requests"],
  [["--max-requests-jitter"], "--max-requests-jitter"],
];

const refuse = (why: string) => new RemediateError(`emergency-reset cannot render the unit: ${why}`, EXIT.partial);

// The app target: what the current unit runs when its module is a file of the working directory (an ASGI target stays
// ASGI: its worker class is kept too), else the one package of the working directory holding wsgi.py.
async function findWsgi(ctx: ProbeContext, workDir: string, unit: Unit | undefined): Promise<string> {
  const current = unit?.loadState === "loaded" ? wsgiModule(unit) : undefined;
  const target = current ? unit?.execStart?.argv.find((a) => a.startsWith(`${current}:`)) : undefined;
  // An ASGI target only with Gunicorn's Uvicorn worker on the same line (the rendered unit keeps worker options).
  const asgiOk = !current?.endsWith("asgi") || !!unit?.execStart?.argv.some((a) => a.includes("uvicorn.workers."));
  if (current && target && asgiOk && (await ctx.transport.stat(`${workDir}/${current.replace(/\./g, "/")}.py`))?.isFile) return target;
  const found: string[] = [];
  for (const d of await ctx.transport.readDir(workDir).catch(() => [] as string[])) {
    if (/^[A-Za-z_]\w*$/.test(d) && (await ctx.transport.stat(`${workDir}/${d}/wsgi.py`))?.isFile) found.push(d);
  }
  if (found.length === 1) return `${found[0]}.wsgi:application`;
  if (target) return target;
  throw refuse(
    `${found.length ? `several packages of ${workDir} hold wsgi.py (${found.join(", ")})` : `no package of ${workDir} holds wsgi.py`} ` +
      "and the current unit names no WSGI target",
  );
}

// Reads what the rendered unit needs from the config and the host: the service user is the owner of projectDir (a
// project owned by root has no service user to name: refused), the WorkingDirectory is where manage.py is.
export async function gatherUnitFacts(ctx: ProbeContext, unit: Unit | undefined): Promise<UnitFacts> {
  const { config, transport: t } = ctx;
  const st = await t.stat(config.projectDir);
  if (!st?.isDirectory) throw refuse(`${config.projectDir} (projectDir) is not a directory`);
  const db = await userDb(ctx);
  // The current unit's non-root User=/Group= are the deployment's; else the project's owner names them.
  const named = unit?.loadState === "loaded" && unit.user && unit.user !== "root" && db.users.has(unit.user) ? unit : undefined;
  const user = named ? named.user : db.uidName.get(st.uid);
  const group = named ? named.group || db.gidName.get(db.users.get(named.user)?.gid ?? -1) : db.gidName.get(st.gid);
  if (!user || !group) throw refuse(`the owner of ${config.projectDir} (uid ${st.uid}, gid ${st.gid}) has no name in /etc/passwd or /etc/group`);
  if (!named && st.uid === 0) throw refuse(`${config.projectDir} is owned by root, so no service user can be named: chown it to the service's user first`);
  let workDir: string | undefined;
  for (const d of [`${config.projectDir}/backend`, config.projectDir]) if ((await t.stat(`${d}/manage.py`))?.isFile) workDir ??= d;
  if (!workDir) throw refuse(`no manage.py in ${config.projectDir}/backend or ${config.projectDir}`);
  if (!(await t.stat(`${config.venvDir}/bin/gunicorn`))?.isFile) throw refuse(`${config.venvDir}/bin/gunicorn does not exist: reinstall the venv first`);
  // The deployment's shape is kept: what the current unit (and the socket that starts it) say, else the config.
  const kept: string[] = [];
  const current = unit?.loadState === "loaded" ? unit : undefined;
  // Socket activation is kept; its socket unit is rewritten when it is gone, broken or shuts nginx out.
  const socketPlan = await planSocket(ctx, unit, user, group);
  const sock = socketPlan ? { id: socketPlan.id, listen: [{ type: "Stream", address: socketPlan.listen }] } : await socketUnit(ctx);
  // A program path mangled by hand (gunicorn-gone, a stale venv) still carries the deployment's Gunicorn options.
  const ran = current?.execStart?.argv;
  const argv = gunicornArgv(ran) ?? (ran && /gunicorn/.test(path.basename(ran[0] ?? "")) ? ["gunicorn", ...ran.slice(1)] : undefined);
  const opts = argv ? argvOptions(argv.slice(1)) : {};
  const flag = (names: string[]) => {
    if (!argv) return undefined;
    for (let i = argv.length - 1; i > 0; i--) {
      const a = argv[i] as string;
      for (const n of names) {
        if (a === n) return argv[i + 1];
        if (a.startsWith(`${n}=`)) return a.slice(n.length + 1);
      }
    }
    return undefined;
  };
  const stream = sock?.listen.find((l) => l.type === "Stream");
  let bind: string;
  if (stream) {
    bind = listenBind(stream.address);
    kept.push(`socket activation by ${sock?.id}: Requires= it, and Gunicorn binds its ListenStream ${bind}`);
  } else if (opts.bind?.length) {
    bind = opts.bind[0] as string;
    kept.push(`Gunicorn's bind ${bind} (the current unit's)`);
  } else {
    const e = await gunicornEndpoint(ctx);
    bind = e.socketPath ? `unix:${e.socketPath}` : new URL(e.base).host;
  }
  const envFiles = current?.environmentFiles.length ? current.environmentFiles : [];
  if (envFiles.length) kept.push(`EnvironmentFile= as the current unit names them (${envFiles.map((e) => `${e.optional ? "-" : ""}${e.path}`).join(", ")})`);
  else for (const f of config.envFiles) if ((await t.stat(f))?.isFile) envFiles.push({ path: f, optional: false });
  if (!envFiles.length && config.envFiles.length)
    throw refuse(`none of the env files ${config.envFiles.join(", ")} exists: restore it first (it holds the secrets)`);
  const type = current?.type || "simple";
  if (current?.type && current.type !== "simple") kept.push(`Type=${current.type}`);
  const runtimeDirectory = current?.runtimeDirectory ?? [];
  if (runtimeDirectory.length) kept.push(`RuntimeDirectory=${runtimeDirectory.join(" ")}`);
  // A Gunicorn the unit runs without these flags logs errors to stderr (the journal) and no access log: kept so.
  // Rendered from scratch, logs go to logDir unless that is the project itself (then the journal: the project
  // directory is not made the service's log directory).
  const ownLogDir = !!config.logDir && ![config.projectDir, workDir].includes(config.logDir);
  const accessLog = flag(["--access-logfile"]) ?? (argv ? undefined : ownLogDir ? `${config.logDir}/access.log` : "-");
  const errorLog = flag(["--error-logfile", "--log-file"]) ?? (argv || !ownLogDir ? "-" : `${config.logDir}/error.log`);
  if (argv && (flag(["--access-logfile"]) || flag(["--error-logfile", "--log-file"]))) kept.push(`Gunicorn's log targets (${accessLog}, ${errorLog})`);
  // Worker options kept as the deployment runs them (a sync worker with --preload stays one).
  const workerArgs: string[] = [];
  if (argv) {
    for (const [names, show] of WORKER_FLAGS) {
      const v = flag(names);
      if (v !== undefined) workerArgs.push(`${show} ${v}`);
    }
    if (argv.includes("--preload")) workerArgs.push("--preload");
    if (workerArgs.length) kept.push(`Gunicorn's worker options (${workerArgs.join(" ")})`);
  }
  const seconds = (names: string[], dflt: number) => {
    const n = Number(flag(names));
    return Number.isInteger(n) && n > 0 ? n : dflt;
  };
  const underHome = [config.projectDir, config.venvDir, workDir].some((p) => /^\/(home|root|run\/user)(\/|$)/.test(p));
  // What the app writes, as Django and Gunicorn say (FS-007's paths: MEDIA_ROOT, upload temp dir, log files' directories),
  // else the conventional media directory; a path that does not exist yet is listed with "-" (systemd skips it).
  const writes = await appWrites(ctx).catch(() => undefined);
  const fromApp = (writes?.paths ?? []).map((p) => (p.kind === "file" || p.kind === "rotating" ? path.posix.dirname(p.path) : p.path));
  const media = (await t.stat(`${workDir}/media`))?.isDirectory ? [`${workDir}/media`] : [];
  const writable: string[] = [];
  for (const p of [...new Set(fromApp.length ? fromApp : media)]) {
    if (p === "/tmp" || p.startsWith("/tmp/")) continue; // PrivateTmp= gives the service its own
    writable.push((await t.stat(p)) ? p : `-${p}`);
  }
  if (writable.length && fromApp.length) kept.push(`what the app writes stays writable (${writable.join(", ")}: from Django's settings and Gunicorn's config)`);
  return {
    unit: unitName(config.service),
    user,
    group,
    projectDir: config.projectDir,
    workDir,
    venvDir: config.venvDir,
    envFiles,
    settingsModule: config.settingsModule,
    bind,
    ...(sock ? { socket: sock.id } : {}),
    ...(socketPlan?.content ? { socketPlan } : {}),
    type,
    runtimeDirectory,
    accessLog,
    errorLog,
    workerArgs: workerArgs.length ? workerArgs : DEFAULT_WORKER_ARGS,
    timeout: seconds(["--timeout", "-t"], 120),
    gracefulTimeout: seconds(["--graceful-timeout"], 30),
    wsgi: await findWsgi(ctx, workDir, unit),
    logDir: config.logDir,
    writable,
    protectHome: underHome ? "read-only" : "true",
    postgresql: unitName(config.dependencies.postgresql),
    kept,
  };
}
