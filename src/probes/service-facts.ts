import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { TransportError } from "../transport/types.ts";
import type { ProbeContext, PythonRead } from "./context.ts";
import { serviceEnv } from "./environment.ts";
import { serviceUnit, workingDirectory } from "./systemd.ts";

// Placeholders seen in templates and docs; a key containing one of these is not a secret.
export const PLACEHOLDERS = ["django-insecure-", "your-super-secret", "change-me", "changeme", "secret-key", "your-secret-key", "dev-key"];

const MARKER = "DDV-SERVICE-FACTS ";

export type GunicornFacts =
  | {
      ok: true;
      version: string;
      bind: string[];
      workers: number;
      threads: number;
      timeout: number;
      gracefulTimeout: number;
      workerClass: string;
      configFile: string | null;
      explicit: string[];
      // Gunicorn's log targets: a path, "-" (the journal) or null (no access log).
      errorlog?: string | null;
      accesslog?: string | null;
    }
  | { ok: false; error: string; notAsked?: undefined }
  // The start skipped Gunicorn's config loader (no check in the run reads it); its version is still known.
  | { ok: false; error: string; notAsked: true; version: string | null };

export type SettingsFacts = {
  module: string;
  DEBUG: boolean;
  ALLOWED_HOSTS: string[];
  SECRET_KEY: { set: boolean; length: number; distinct: number; placeholder: string | null; error?: string };
  // DATABASES['default'] as Django resolved it (PASSWORD is masked by the run's secrets; OPTIONS: its str/int values).
  DATABASE: Record<"ENGINE" | "NAME" | "HOST" | "PORT" | "USER", string> & { PASSWORD?: string; OPTIONS?: Record<string, string> };
  SECURE: Record<string, unknown>;
  // For the run history (absent in answers of an older service-facts.py): apps, middleware, and each app's migration
  // files on disk by label.
  INSTALLED_APPS?: string[];
  MIDDLEWARE?: string[];
  migrationFiles?: Record<string, string[]> | { error: string };
  // Project source files holding SECRET_KEY or the database password literally, with a sha256 of each such line.
  secretsInCode?: Array<{ file: string; holds: string[]; lineHashes: string[] }>;
  // What the app writes, as its settings say (paths only; absent in answers of an older service-facts.py). cwd: where
  // the start resolved relative paths (Gunicorn's --chdir, else WorkingDirectory).
  cwd?: string;
  MEDIA_ROOT?: string;
  // Static and media URLs and STATIC_ROOT (absolute; null when unset), for `npm run discover`.
  STATIC_URL?: string;
  STATIC_ROOT?: string | null;
  MEDIA_URL?: string;
  // The default storage: location is where a file-system storage saves uploads (null for any other backend).
  MEDIA_STORAGE?: { backend: string; location: string | null } | { error: string };
  FILE_UPLOAD_TEMP_DIR?: string | null;
  LOGGING_CONFIG?: string | null;
  // LOGGING's handlers that write a file (a `filename` in their config), filename absolute.
  LOGGING_FILES?: Array<{ handler: string; class: string; filename: string; rotates: boolean }> | { error: string };
};

export type DeployIssue = { id: string | null; level: string; msg: string; obj: string | null };
export type CheckFacts = { ran: true; outcome: "passed" | "failed"; issues: DeployIssue[]; output: string } | { ran: false; error: string; output: string };
export type MigrationFacts = { ok: true; output: string } | { ok: false; error: string };

export type DjangoFacts =
  // envReads: the names the settings module looked up in os.environ while it loaded.
  | { ok: true; version: string; envReads?: string[]; settings: SettingsFacts | { error: string }; check: CheckFacts | null; migrations: MigrationFacts | null }
  | { ok: false; error: string };

// What one Python start as the service reported; `as` says whose identity and environment it used.
// packages: versions of the database drivers in the venv (psycopg2...), by distribution name.
export type ServiceFacts =
  | { ran: true; as: string; python: string; packages?: Record<string, string>; gunicorn: GunicornFacts; django: DjangoFacts }
  | { ran: false; as: string; error: string };
// What one start is asked to answer (django: false for Gunicorn's config alone).
export type StartOptions = { gunicorn: boolean; django?: boolean; check: boolean; migrations: boolean };
// A start for Gunicorn's config alone (Django not loaded).
export type GunicornStart = { ran: true; as: string; gunicorn: GunicornFacts } | { ran: false; as: string; error: string };

// Answers of completed starts, kept for the whole validator process: every spec file of a run has its own probe
// context, but the same question (same identity, environment, directory and options) needs one Python start per run.
const answered = new Map<string, ServiceFacts>();

// Forgets the answers kept across probe contexts (tests replaying different hosts).
export function forgetServiceFacts() {
  answered.clear();
}

let script: string | undefined;
// The Python program, read from next to this file at first use.
function pythonProgram(): string {
  script ??= readFileSync(path.join(import.meta.dirname, "service-facts.py"), "utf8");
  return script;
}

// Gunicorn's own argv from ExecStart (`.../gunicorn ARGS` or `python -m gunicorn ARGS`), or undefined when it runs something else.
export function gunicornArgv(argv: string[] | undefined): string[] | undefined {
  return serverArgv(argv, "gunicorn", /^gunicorn(-script\.pyw?)?$/);
}

// An app server's argv from its program on: run as `program` (its name matching `names`) or as `python -m module`.
export function serverArgv(argv: string[] | undefined, module: string, names: RegExp): string[] | undefined {
  if (!argv?.length) return undefined;
  if (names.test(path.basename(argv[0] as string))) return argv;
  const m = argv.findIndex((a, i) => a === "-m" && argv[i + 1] === module);
  return m >= 0 && /python/.test(path.basename(argv[0] as string)) ? [module, ...argv.slice(m + 2)] : undefined;
}

// Reads the JSON line the program printed (after anything the app itself printed).
export function parseFacts(stdout: string): Omit<Extract<ServiceFacts, { ran: true }>, "ran" | "as"> | undefined {
  const line = stdout
    .split("\n")
    .reverse()
    .find((l) => l.startsWith(MARKER));
  return line ? JSON.parse(line.slice(MARKER.length)) : undefined;
}

// What a start must answer for a run that reads `reads` (undefined: everything). Without Gunicorn's loader, `check
// --deploy` and migrations, the start reads Django's settings in about a quarter of the time (the smoke gate's case).
// A read left out costs one more start (gunicornFacts, serviceFacts' "more"), never a wrong answer.
export function startOptions(reads: ReadonlySet<PythonRead> | undefined): StartOptions {
  const has = (r: PythonRead) => !reads || reads.has(r);
  return { gunicorn: has("gunicorn-config"), check: has("check-deploy"), migrations: has("migrations") };
}

// What the run's checks need from the start.
export function wanted(ctx: ProbeContext): StartOptions {
  return startOptions(ctx.reads);
}

// What each context's start asked for: a run that turns out to need more starts once more (never answers without).
const asked = new WeakMap<ProbeContext, StartOptions>();

// Starts the run's Python while the checks' modules still load, with what its suites may need.
export function startServiceFactsEarly(ctx: ProbeContext, want: StartOptions) {
  if (asked.has(ctx)) return;
  asked.set(ctx, want);
  ctx.once("python:service-facts", () => startPython(ctx, want)).catch(() => {});
}

// One Python start as the unit's User/Group, with the service's environment, from its WorkingDirectory, by the venv's
// python: Gunicorn's effective config, Django's settings, `check --deploy` and `showmigrations --plan`, all at once.
export function serviceFacts(ctx: ProbeContext): Promise<ServiceFacts> {
  const need = wanted(ctx);
  const have = asked.get(ctx);
  if (!have) asked.set(ctx, need);
  // Gunicorn's config has its own second start (gunicornFacts); `check --deploy` and migrations have none.
  const enough = !have || ((!need.check || have.check) && (!need.migrations || have.migrations));
  const key = enough ? "python:service-facts" : "python:service-facts:more";
  return ctx.once(key, () => startPython(ctx, enough ? (have ?? need) : need) as Promise<ServiceFacts>);
}

// A start for Gunicorn's config alone, when the run's one start did not load it (a reader the run did not declare).
export function gunicornFacts(ctx: ProbeContext): Promise<GunicornStart> {
  return ctx.once("python:gunicorn-facts", async () => {
    const f = await serviceFacts(ctx);
    if (!f.ran || f.gunicorn.ok || !f.gunicorn.notAsked) return f;
    return startPython(ctx, { gunicorn: true, django: false, check: false, migrations: false });
  });
}

// The database password Django reported joins the run's secrets before anything can show it.
function maskPassword<T extends ServiceFacts>(ctx: ProbeContext, f: T): T {
  const settings = f.ran && f.django?.ok ? f.django.settings : undefined;
  const pw = settings && !("error" in settings) ? settings.DATABASE.PASSWORD : undefined;
  if (pw && pw.length >= ctx.config.secrets.minLength && !ctx.secrets.includes(pw)) {
    ctx.secrets.push(pw);
    ctx.secrets.sort((a, b) => b.length - a.length);
  }
  return f;
}

// One Python start as the unit's User/Group, with the service's environment, from its WorkingDirectory, by the venv's python.
async function startPython(ctx: ProbeContext, want: StartOptions): Promise<ServiceFacts | GunicornStart> {
  const [unit, { env, source }] = await Promise.all([serviceUnit(ctx), serviceEnv(ctx)]);
  const cwd = await workingDirectory(ctx, unit);
  const user = unit.user || "root";
  const group = unit.group || user;
  const python = `${ctx.config.venvDir}/bin/python`;
  const as = `as ${user}, environment of ${source}`;
  const opts = {
    placeholders: PLACEHOLDERS,
    failLevel: ctx.config.thresholds.checkDeployFailLevel,
    gunicornArgv: gunicornArgv(unit.execStart?.argv) ?? null,
    connectTimeout: Math.max(1, Math.floor(ctx.config.timeouts.dbMs / 1000)),
    ...want,
  };
  const cleanEnv = { ...env, DJANGO_SETTINGS_MODULE: env.DJANGO_SETTINGS_MODULE ?? ctx.config.settingsModule, PYTHONDONTWRITEBYTECODE: "1" };
  // setpriv changes identity without touching the environment (runuser/su would rewrite it).
  const argv = ["setpriv", `--reuid=${user}`, `--regid=${group}`, "--init-groups", "--", python, "-", JSON.stringify(opts)];
  const key = createHash("sha256")
    .update(JSON.stringify([ctx.transport.name, argv, cwd, cleanEnv, as]))
    .digest("hex");
  const known = answered.get(key);
  if (known) return maskPassword(ctx, known);
  try {
    const r = await ctx.transport.run(argv, { cwd, env: cleanEnv, input: pythonProgram(), timeoutMs: ctx.config.timeouts.commandMs * 2 });
    const facts = parseFacts(r.stdout);
    if (facts) {
      const f: ServiceFacts = { ran: true, as, ...facts };
      answered.set(key, f); // only complete answers: a start killed with its session is asked again
      return maskPassword(ctx, f);
    }
    const why = (r.stderr || r.stdout).trim().split("\n").slice(-1)[0] || "no output";
    return { ran: false, as, error: `${python} exited ${r.exitCode} without an answer: ${ctx.clip(why, 200, "end")}` };
  } catch (err) {
    if (err instanceof TransportError) return { ran: false, as, error: `${python} could not run in ${cwd}: ${err.message}` };
    throw err;
  }
}
