import { TransportError } from "../transport/types.ts";
import type { ProbeContext } from "./context.ts";
import { isForkedNotExeced, parseProcStat, type ProcStat } from "./proc-stat.ts";
import { serviceUnit, type Unit } from "./systemd.ts";

export type ServiceEnv = { source: string; env: Record<string, string>; steady?: boolean };

const WHITESPACE = " \t\n\r";
const NEWLINE = "\n\r";
const COMMENTS = "#;";
// Characters a backslash escapes inside double quotes; before any other character the backslash stays.
const SHELL_NEED_ESCAPE = '"\\`$';
// systemd drops assignments whose name is not a valid shell variable name ("export X", "1BAD", "A-B").
const VALID_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

type State = "preKey" | "key" | "preValue" | "value" | "valueEscape" | "single" | "double" | "doubleEscape" | "comment" | "commentEscape";

// Parses an EnvironmentFile= exactly as systemd 252 (Debian 12) does: its load_env_file() state machine
// (src/basic/env-file.c), then the exec-time clean-up that drops invalid names and keeps the last duplicate.
// Checked against systemd's own output in test/recorded/env-file-odd*.
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let state: State = "preKey";
  let key = "";
  let value = "";
  // Where trailing unquoted whitespace starts (-1: none), to chomp it as systemd does.
  let keyWs = -1;
  let valueWs = -1;
  const push = () => {
    const k = keyWs >= 0 ? key.slice(0, keyWs) : key;
    if (VALID_NAME.test(k)) {
      delete out[k]; // a later duplicate wins and moves to the end, as in systemd's strv
      out[k] = value;
    }
    key = "";
    value = "";
  };
  for (const c of text) {
    switch (state) {
      case "preKey":
        if (COMMENTS.includes(c)) state = "comment";
        else if (!WHITESPACE.includes(c)) {
          state = "key";
          keyWs = -1;
          key = c;
        }
        break;
      case "key":
        if (NEWLINE.includes(c)) {
          state = "preKey"; // a line without "=" is ignored
          key = "";
        } else if (c === "=") {
          state = "preValue";
          valueWs = -1;
        } else {
          if (!WHITESPACE.includes(c)) keyWs = -1;
          else if (keyWs < 0) keyWs = key.length;
          key += c;
        }
        break;
      case "preValue":
        if (NEWLINE.includes(c)) {
          state = "preKey";
          push();
        } else if (c === "'") state = "single";
        else if (c === '"') state = "double";
        else if (c === "\\") state = "valueEscape";
        else if (!WHITESPACE.includes(c)) {
          state = "value";
          value += c;
        }
        break;
      case "value":
        if (NEWLINE.includes(c)) {
          state = "preKey";
          if (valueWs >= 0) value = value.slice(0, valueWs);
          push();
        } else if (c === "\\") {
          state = "valueEscape";
          valueWs = -1;
        } else {
          if (!WHITESPACE.includes(c)) valueWs = -1;
          else if (valueWs < 0) valueWs = value.length;
          value += c;
        }
        break;
      case "valueEscape":
        state = "value";
        if (!NEWLINE.includes(c)) value += c; // an escaped newline joins the lines
        break;
      case "single":
        if (c === "'") state = "preValue";
        else value += c;
        break;
      case "double":
        if (c === '"') state = "preValue";
        else if (c === "\\") state = "doubleEscape";
        else value += c;
        break;
      case "doubleEscape":
        state = "double";
        if (SHELL_NEED_ESCAPE.includes(c)) value += c;
        else if (c !== "\n") value += `\\${c}`;
        break;
      case "comment":
        if (c === "\\") state = "commentEscape";
        else if (NEWLINE.includes(c)) state = "preKey";
        break;
      case "commentEscape":
        // systemd < 254: a comment ending in a backslash swallows the next line too.
        state = "comment";
        break;
    }
  }
  if (state === "value" && valueWs >= 0) value = value.slice(0, valueWs);
  if (["preValue", "value", "valueEscape", "single", "double", "doubleEscape"].includes(state)) push();
  return out;
}

// Splits a NUL-separated /proc/<pid>/environ block into a map.
export function parseEnviron(raw: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const kv of raw.split("\0")) {
    const i = kv.indexOf("=");
    if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return env;
}

export type UnitEnv = {
  // Environment= merged with the env files, files last (they override Environment=, as in systemd).
  env: Record<string, string>;
  paths: string[];
  // Files that exist but could not be read (path: reason); missing files are simply absent, as for systemd's "-".
  unreadable: string[];
};

// Reads env files in order into one map (later files override earlier ones); missing files are skipped.
export async function readEnvFiles(ctx: ProbeContext, paths: string[]): Promise<{ env: Record<string, string>; unreadable: string[] }> {
  const texts = await Promise.all(
    paths.map((p) =>
      ctx.transport.readFile(p).then(
        (text): { text: string } | { error: string } => ({ text }),
        (err: unknown): { text: string } | { error: string } => {
          if (err instanceof TransportError && (err.code === "ENOENT" || err.code === "ENOTDIR")) return { text: "" };
          return { error: `${p}: ${err instanceof TransportError ? (err.code ?? err.message) : String(err)}` };
        },
      ),
    ),
  );
  const env: Record<string, string> = {};
  const unreadable: string[] = [];
  for (const t of texts) {
    if ("error" in t) unreadable.push(t.error);
    else Object.assign(env, parseEnvFile(t.text));
  }
  return { env, unreadable };
}

// What the unit itself defines: Environment= and its EnvironmentFile= files (config.envFiles when it names none).
export function unitEnv(ctx: ProbeContext): Promise<UnitEnv> {
  return ctx.once("env:unit", async () => {
    const unit = await serviceUnit(ctx);
    const paths = unit.environmentFiles.length ? unit.environmentFiles.map((f) => f.path) : ctx.config.envFiles;
    const files = await readEnvFiles(ctx, paths);
    return { env: { ...unit.environment, ...files.env }, paths, unreadable: files.unreadable };
  });
}

// One place the unit takes variables from, in systemd's order: Environment= first, then each EnvironmentFile=.
export type EnvSource = { name: string; kind: "Environment=" | "EnvironmentFile="; optional: boolean; exists: boolean; env: Record<string, string> };

// Every source of the unit's environment, separately and in order (a later source overrides an earlier one), for
// judging where each variable comes from. A missing file is `exists: false` (systemd skips an optional one); a file
// that exists but cannot be read throws: we could not look.
export function unitEnvSources(ctx: ProbeContext): Promise<EnvSource[]> {
  return ctx.once("env:sources", async () => {
    const unit = await serviceUnit(ctx);
    const files = await Promise.all(
      unit.environmentFiles.map(async (f): Promise<EnvSource> => {
        try {
          const env = parseEnvFile(await ctx.transport.readFile(f.path));
          return { name: f.path, kind: "EnvironmentFile=", optional: f.optional, exists: true, env };
        } catch (err) {
          if (err instanceof TransportError && (err.code === "ENOENT" || err.code === "ENOTDIR"))
            return { name: f.path, kind: "EnvironmentFile=", optional: f.optional, exists: false, env: {} };
          throw new TransportError(
            `cannot read the unit's env file ${f.path}: ${err instanceof TransportError ? (err.code ?? err.message) : String(err)}`,
            err instanceof TransportError ? err.code : undefined,
          );
        }
      }),
    );
    return [{ name: "Environment=", kind: "Environment=", optional: false, exists: true, env: unit.environment }, ...files];
  });
}

// For each variable set by more than one source: every source that sets it, in order, and the one that wins (the last).
export function shadowedKeys(sources: EnvSource[]): Array<{ key: string; setBy: string[]; winner: string }> {
  const setBy = new Map<string, string[]>();
  for (const s of sources) for (const k of Object.keys(s.env)) setBy.set(k, [...(setBy.get(k) ?? []), s.name]);
  return [...setBy].filter(([, by]) => by.length > 1).map(([key, by]) => ({ key, setBy: by, winner: by[by.length - 1] as string }));
}

// The env file an operator edits: the first EnvironmentFile= not marked optional, else the first one the unit names.
export function operatorEnvFile(sources: EnvSource[]): EnvSource | undefined {
  const files = sources.filter((s) => s.kind === "EnvironmentFile=");
  return files.find((s) => !s.optional) ?? files[0];
}

// What we saw of the main process: its stat before and after reading its environ, and the environ (or why not).
export type ProcessLook = { before?: ProcStat; environ?: string; environError?: TransportError; after?: ProcStat };

export type Steadiness = { steady: true } | { steady: false; reason: string; cannotLook?: boolean };

// Whether an environ read is the environment of a process running steadily, judged on systemd's facts: the unit is
// active/running, the PID lived through the read with one start time and had exec'd the unit's program (not still
// systemd's "(name)" child, whose environ is PID 1's), and its environ is non-empty, belongs to the unit's current
// invocation (INVOCATION_ID, set at exec) and holds at least one variable the unit defines. Anything else is not: a
// crash loop's exiting or reused PID, or a Type=simple child that systemd counts as running before it execs.
export function judgeSteadiness(unit: Pick<Unit, "activeState" | "subState" | "mainPid" | "invocationId">, look: ProcessLook, defined: string[]): Steadiness {
  const pid = unit.mainPid;
  const alive = (s: ProcStat | undefined) => s !== undefined && s.state !== "Z" && s.state !== "X";
  if (unit.activeState !== "active" || unit.subState !== "running") return { steady: false, reason: `the unit is ${unit.activeState}/${unit.subState}` };
  if (!alive(look.before)) return { steady: false, reason: look.before ? `PID ${pid} is exiting (state ${look.before.state})` : `PID ${pid} is gone` };
  if (!alive(look.after))
    return { steady: false, reason: look.after ? `PID ${pid} was exiting while we read it (state ${look.after.state})` : `PID ${pid} exited while we read it` };
  if (look.before?.startTime !== look.after?.startTime) return { steady: false, reason: `PID ${pid} was replaced by another process while we read it` };
  const forked = [look.before, look.after].find((s) => s && isForkedNotExeced(s.comm));
  if (forked) return { steady: false, reason: `PID ${pid} was still being started by systemd (${forked.comm}, not exec'd yet)` };
  if (look.environError) {
    const code = look.environError.code;
    if (code === "ENOENT" || code === "ESRCH") return { steady: false, reason: `PID ${pid} vanished while we read its environ (${code})` };
    // Alive and running, yet unreadable (no root?): we could not look; never guess from the files.
    return { steady: false, cannotLook: true, reason: `cannot read /proc/${pid}/environ of the running service: ${code ?? look.environError.message}` };
  }
  const env = parseEnviron(look.environ ?? "");
  const names = Object.keys(env);
  if (!names.length) return { steady: false, reason: `PID ${pid} had an empty environ (exiting)` };
  const invocation = env.INVOCATION_ID;
  if (invocation !== undefined && unit.invocationId && invocation !== unit.invocationId)
    return { steady: false, reason: `PID ${pid}'s environ is of another invocation than the unit's current one (restarted while we looked)` };
  if (defined.length && !defined.some((k) => k in env))
    return { steady: false, reason: `PID ${pid}'s environ holds none of the unit's variables (${defined.slice(0, 3).join(", ")}...)` };
  return { steady: true };
}

async function readStat(ctx: ProbeContext, pid: number): Promise<ProcStat | undefined> {
  try {
    return parseProcStat(await ctx.transport.readFile(`/proc/${pid}/stat`));
  } catch (err) {
    if (err instanceof TransportError) return undefined;
    throw err;
  }
}

// Reads the main process's environ between two reads of its stat, so a PID that died or was reused shows.
export async function lookAtProcess(ctx: ProbeContext, pid: number): Promise<ProcessLook> {
  const look: ProcessLook = { before: await readStat(ctx, pid) };
  if (!look.before) return look;
  try {
    look.environ = await ctx.transport.readFile(`/proc/${pid}/environ`);
  } catch (err) {
    if (!(err instanceof TransportError)) throw err;
    look.environError = err;
  }
  look.after = await readStat(ctx, pid);
  return look;
}

// The environment the service really runs with: /proc/<MainPID>/environ when the process runs steadily, else
// (stopped, between restarts, exiting) what the unit defines: Environment= and its env files. `source` says which.
export function serviceEnv(ctx: ProbeContext): Promise<ServiceEnv> {
  return ctx.once("env:service", async () => {
    const unit = await serviceUnit(ctx);
    let why = "service not running";
    if (unit.mainPid > 0) {
      const [look, defined] = await Promise.all([lookAtProcess(ctx, unit.mainPid), unitEnv(ctx)]);
      const verdict = judgeSteadiness(unit, look, Object.keys(defined.env));
      if (verdict.steady) return { source: `the running process (PID ${unit.mainPid})`, env: parseEnviron(look.environ ?? ""), steady: true };
      if (verdict.cannotLook) throw new TransportError(verdict.reason, look.environError?.code);
      why = `${verdict.reason}; not judged as the service's environment`;
    }
    const u = await unitEnv(ctx);
    if (u.unreadable.length) throw new TransportError(`cannot read the unit's env files (${why}): ${u.unreadable.join(", ")}`, "EACCES");
    return { source: `the env files ${u.paths.join(", ")} (${why})`, env: u.env, steady: false };
  });
}

export { redact, secretValues } from "./redact.ts";
