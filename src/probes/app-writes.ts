import path from "node:path";
import { z } from "zod";
import type { ProbeContext } from "./context.ts";
import { serviceEnv } from "./environment.ts";
import { gunicornArgv, gunicornFacts, serviceFacts, type SettingsFacts } from "./service-facts.ts";
import { uvicornArgv } from "./uvicorn.ts";
import { parseShow, ShownUnit, showProperties } from "./systemctl-show.ts";
import { serviceUnit, workingDirectory } from "./systemd.ts";

// How a path is written, which decides what must be writable:
// tree: Django's FileSystemStorage (MEDIA_ROOT) makes missing directories: the path, or its nearest existing parent;
// dir: must exist and be writable (FILE_UPLOAD_TEMP_DIR: tempfile does not create it);
// file: the file, or when it does not exist yet its directory (logging and Gunicorn create the file, never a directory);
// rotating: the file and its directory (a rotating handler renames the file and creates a new one).
export type WriteKind = "tree" | "dir" | "file" | "rotating";
export type AppPath = { path: string; kind: WriteKind; sources: string[] };
// paths: what must be writable; toJournal: what goes to stderr/stdout (no file); notes: what is written elsewhere;
// unknown: what could not be learned (never read as "nothing to write").
export type AppWrites = { paths: AppPath[]; toJournal: string[]; notes: string[]; unknown: string[] };

// Gunicorn's log targets as service-facts.py reports them: an absolute path, "-" (stderr/stdout), or null (none).
const GunicornLogs = z.object({ errorlog: z.string().nullable(), accesslog: z.string().nullable() });
export type GunicornLogs = z.infer<typeof GunicornLogs> & { source: string };

const LOG_FLAGS: Record<string, "errorlog" | "accesslog"> = { "--error-logfile": "errorlog", "--log-file": "errorlog", "--access-logfile": "accesslog" };

// Fallback when Gunicorn's loader cannot run: the log options of GUNICORN_CMD_ARGS then the command line (later wins).
export function logsFromArgv(argv: string[], env: Record<string, string>, cwd: string): Omit<GunicornLogs, "source"> {
  const out: Omit<GunicornLogs, "source"> = { errorlog: "-", accesslog: null };
  const words = [...(env.GUNICORN_CMD_ARGS ?? "").split(/\s+/).filter(Boolean), ...argv.slice(1)];
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    const flag = Object.keys(LOG_FLAGS).find((f) => w === f || w.startsWith(`${f}=`));
    if (!flag) continue;
    const v = w === flag ? words[++i] : w.slice(flag.length + 1);
    if (v !== undefined) out[LOG_FLAGS[flag] as "errorlog" | "accesslog"] = v === "-" ? "-" : path.resolve(cwd, v);
  }
  return out;
}

// Gunicorn's log targets from its own config loader (one Python start as the service), else from its command line.
export async function gunicornLogs(ctx: ProbeContext): Promise<GunicornLogs> {
  const [f, unit, { env }] = await Promise.all([gunicornFacts(ctx), serviceUnit(ctx), serviceEnv(ctx)]);
  const parsed = f.ran && f.gunicorn.ok ? GunicornLogs.safeParse(f.gunicorn) : undefined;
  if (f.ran && f.gunicorn.ok && parsed?.success) return { ...parsed.data, source: `gunicorn ${f.gunicorn.version}'s config loader` };
  const why = !f.ran ? f.error : !f.gunicorn.ok ? f.gunicorn.error : "its answer has no errorlog/accesslog (an older service-facts.py)";
  const argv = gunicornArgv(unit.execStart?.argv);
  // Uvicorn logs to stdout and stderr (the journal); a --log-config file is not read here.
  if (!argv && uvicornArgv(unit.execStart?.argv)) return { errorlog: "-", accesslog: "-", source: "Uvicorn's command line (it logs to the journal)" };
  if (!argv) throw new Error(`ExecStart does not run gunicorn and its config loader could not run: ${ctx.clip(why, 200)}`);
  const cwd = await workingDirectory(ctx, unit);
  return {
    ...logsFromArgv(argv, env, cwd),
    source: `the ExecStart command line and GUNICORN_CMD_ARGS (gunicorn's config loader could not run: ${ctx.clip(why, 200)})`,
  };
}

// Every path the app writes, from Django's settings (or why they could not be read) and Gunicorn's log targets.
export function appWritePaths(settings: SettingsFacts | { error: string }, logs: GunicornLogs | { error: string }): AppWrites {
  const byPath = new Map<string, AppPath>();
  const add = (p: string, kind: WriteKind, source: string) => {
    const seen = byPath.get(p);
    if (!seen) return void byPath.set(p, { path: p, kind, sources: [source] });
    seen.sources.push(source);
    // The strictest need wins: a rotating handler needs the directory even when a plain one shares the file.
    if (seen.kind === "file" && kind === "rotating") seen.kind = kind;
  };
  const out: AppWrites = { paths: [], toJournal: [], notes: [], unknown: [] };

  if ("error" in logs) out.unknown.push(`Gunicorn's log files: ${logs.error}`);
  else
    for (const [key, flag] of [
      ["errorlog", "--error-logfile"],
      ["accesslog", "--access-logfile"],
    ] as const) {
      const v = logs[key];
      if (v === "-") out.toJournal.push(`Gunicorn ${flag} is "-" (${key === "errorlog" ? "stderr" : "stdout"}: the journal)`);
      else if (v) add(v, "file", `Gunicorn ${flag}`);
    }

  if ("error" in settings) out.unknown.push(`Django's settings: ${settings.error}`);
  else if (settings.MEDIA_ROOT === undefined) out.unknown.push("Django's settings: the answer has no MEDIA_ROOT (an older service-facts.py)");
  else {
    const storage = settings.MEDIA_STORAGE;
    if (!storage || "error" in storage) out.unknown.push(`MEDIA_ROOT: the default storage could not be loaded: ${storage?.error ?? "not reported"}`);
    else if (storage.location) add(storage.location, "tree", mediaSource(settings, storage.location, storage.backend));
    else out.notes.push(`uploads go to ${storage.backend}, not to the file system (MEDIA_ROOT is not written)`);

    const temp = settings.FILE_UPLOAD_TEMP_DIR;
    if (temp) add(temp, "dir", "FILE_UPLOAD_TEMP_DIR from Django settings");
    else out.notes.push("FILE_UPLOAD_TEMP_DIR is unset: large uploads go to the system temp directory");

    const files = settings.LOGGING_FILES;
    if (settings.LOGGING_CONFIG === null) out.notes.push("LOGGING_CONFIG is None: Django applies no LOGGING");
    else if (!files || "error" in files) out.unknown.push(`LOGGING's file handlers: ${files?.error ?? "not reported"}`);
    else if (!files.length) out.toJournal.push("Django's LOGGING has no file handler (its records go to the console: the journal)");
    else for (const h of files) add(h.filename, h.rotates ? "rotating" : "file", `LOGGING handler '${h.handler}' (${h.class})`);
  }
  out.paths = [...byPath.values()];
  return out;
}

// Where the media location was learned: MEDIA_ROOT (relative to the start's working directory; "" is that directory),
// or a storage whose own location differs from it.
function mediaSource(s: SettingsFacts, location: string, backend: string): string {
  if (location !== path.resolve(s.cwd ?? "/", s.MEDIA_ROOT ?? "")) return `the default storage's location (${backend})`;
  return s.MEDIA_ROOT ? "MEDIA_ROOT from Django settings" : 'MEDIA_ROOT from Django settings is "": uploads are saved in the working directory';
}

// What the app writes on this host: one memoised answer for the run.
export function appWrites(ctx: ProbeContext): Promise<AppWrites> {
  return ctx.once("app-writes", async () => {
    const [f, logs] = await Promise.all([serviceFacts(ctx), gunicornLogs(ctx).catch((e: Error) => ({ error: e.message }))]);
    let settings: SettingsFacts | { error: string };
    if (!f.ran) settings = { error: `Django could not start: ${ctx.clip(f.error, 300)}` };
    else if (!f.django.ok) settings = { error: `Django could not start: ${ctx.clip(f.django.error, 300)}` };
    else if ("error" in f.django.settings) settings = { error: `Django started but its settings could not be read: ${ctx.clip(f.django.settings.error, 300)}` };
    else settings = f.django.settings;
    return appWritePaths(settings, logs);
  });
}

// The unit's sandbox settings that decide which paths it may write (ProtectSystem= and the paths it exempts).
export type UnitSandbox = { protectSystem: string; readWritePaths: string[]; writable: string[] };

// Reads `systemctl show -p ProtectSystem,ReadWritePaths,...` output: the paths systemd keeps writable under ProtectSystem.
export function parseUnitSandbox(text: string): UnitSandbox {
  return unitSandboxOf(parseShow(text)[0] ?? new ShownUnit());
}

// The same, from the unit's properties as showProperties answers them.
function unitSandboxOf(shown: ShownUnit): UnitSandbox {
  const v = (k: string) => shown.one(k).trim();
  const words = (k: string) => v(k).split(/\s+/).filter(Boolean);
  const readWritePaths = words("ReadWritePaths").map((p) => p.replace(/^[-+]+/, ""));
  const writable = [
    ...readWritePaths,
    ...words("RuntimeDirectory").map((d) => `/run/${d}`),
    ...words("StateDirectory").map((d) => `/var/lib/${d}`),
    ...words("CacheDirectory").map((d) => `/var/cache/${d}`),
    ...words("LogsDirectory").map((d) => `/var/log/${d}`),
    "/dev",
    "/proc",
    "/sys",
    ...(/^(yes|true|1)$/.test(v("PrivateTmp")) ? ["/tmp", "/var/tmp"] : []),
  ];
  return { protectSystem: v("ProtectSystem") || "no", readWritePaths, writable };
}

// The unit's sandbox settings, asked only when a write is refused or must be modelled (the service is down).
export function unitSandbox(ctx: ProbeContext): Promise<UnitSandbox> {
  return ctx.once("app-writes:sandbox", async () => {
    const props = ["ProtectSystem", "ReadWritePaths", "RuntimeDirectory", "StateDirectory", "CacheDirectory", "LogsDirectory", "PrivateTmp"];
    return unitSandboxOf((await showProperties(ctx.transport, [ctx.config.service], props))[0] ?? new ShownUnit());
  });
}

// Why systemd's sandbox makes `p` read-only, or undefined when ProtectSystem= leaves it writable.
export function sandboxReadOnly(sb: UnitSandbox, p: string): string | undefined {
  const under = (d: string) => p === d || p.startsWith(`${d.replace(/\/+$/, "")}/`);
  if (sb.writable.some(under)) return undefined;
  if (sb.protectSystem === "strict") return `outside ReadWritePaths under ProtectSystem=strict (ReadWritePaths=${sb.readWritePaths.join(" ") || "(none)"})`;
  if (["yes", "true", "full"].includes(sb.protectSystem) && ["/usr", "/boot", "/efi", ...(sb.protectSystem === "full" ? ["/etc"] : [])].some(under))
    return `under a directory ProtectSystem=${sb.protectSystem} makes read-only`;
  return undefined;
}
