import { TransportError } from "../transport/types.ts";
import type { ProbeContext } from "./context.ts";
import { listenersOn } from "./process.ts";
import { parseJournal, serviceUnit, unitName, type Unit } from "./systemd.ts";

// How many of the unit's newest journal entries are read to explain a crash loop (a few failed starts' worth).
export const CAUSE_JOURNAL_ENTRIES = 400;
// How much of the end of Gunicorn's error log is read (the worker's traceback goes there, not to the journal).
export const CAUSE_LOG_BYTES = 64 * 1024;

// What made the last starts fail, read from their output; `port` asks the caller who holds that port.
export type CrashCause = { text: string; port?: number };

const EXCEPTION = /^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)|[A-Za-z_][\w.]*\.[A-Z]\w*)(?::\s.*)?$/;

// The last Python traceback's exception that is not Gunicorn's own (HaltServer only says a worker failed to boot),
// with the deepest source file and line it was raised at.
function lastTraceback(lines: string[]): string | undefined {
  for (let end = lines.length - 1; end >= 0; end--) {
    const line = (lines[end] as string).trim();
    if (!EXCEPTION.test(line) || line.startsWith("gunicorn.errors.")) continue;
    let frame: string | undefined;
    let start = -1;
    for (let i = end - 1; i >= 0 && i >= end - 200; i--) {
      const l = (lines[i] as string).trim();
      if (l.startsWith("Traceback (most recent call last)")) {
        start = i;
        break;
      }
      const f = l.match(/^File "([^"]+)", line (\d+)/);
      if (f && !frame && !(f[1] as string).startsWith("<")) frame = `${f[1]} line ${f[2]}`;
    }
    if (start >= 0) return `${line}${frame ? ` (raised in ${frame})` : ""}`;
  }
  return undefined;
}

// Explains a failed start from its output lines (journal of the unit, then the tail of Gunicorn's error log), most
// specific cause first: a program that cannot execute, an ExecStartPre that failed, a port in use, a Python
// exception, Gunicorn's own "Error:", permission denied on a path. Undefined when the lines name no cause.
export function explainCrash(journal: string[], errorLog: string[] = []): CrashCause | undefined {
  const lastOf = (lines: string[], re: RegExp) => {
    for (let i = lines.length - 1; i >= 0; i--) {
      const m = (lines[i] as string).match(re);
      if (m) return { m, i };
    }
    return undefined;
  };
  const exec = lastOf(journal, /(?:Failed to execute|Failed at step EXEC spawning|Failed to locate executable|Unable to locate executable) (\S+?):? (.+)$/);
  if (exec) return { text: `cannot execute ${exec.m[1]}: ${exec.m[2]}` };
  const pre = lastOf(journal, /Control process exited, code=(\w+), status=(\S+)/);
  if (pre) {
    // The failing ExecStartPre's own last words: the nearest earlier line that is not one of systemd's own.
    const said = journal
      .slice(Math.max(0, pre.i - 20), pre.i)
      .reverse()
      .find((l) => l.trim() && !/^\S+\.service: |^(Starting|Started|Stopped|Stopping) /.test(l));
    return { text: `a start-up command (ExecStartPre) exited ${pre.m[1]} status ${pre.m[2]}${said ? `: ${said.trim()}` : ""}` };
  }
  const all = [...journal, ...errorLog];
  const inUse = lastOf(all, /Connection in use: \(['"]?([^'",)]*)['"]?, (\d+)\)|Address already in use/);
  if (inUse) {
    const port = inUse.m[2] ? Number(inUse.m[2]) : undefined;
    return { text: `address already in use${port ? ` (${inUse.m[1] || "*"}:${port})` : ""}`, port };
  }
  const tb = lastTraceback(errorLog) ?? lastTraceback(journal);
  if (tb) return { text: tb };
  const gerr = lastOf(all, /^(?:\[[^\]]*\] )*Error: (.+)$/);
  if (gerr) return { text: `Gunicorn: Error: ${gerr.m[1]}` };
  const denied = lastOf(all, /Permission denied(?::? '?([^'\s]+)'?)?|(\/\S+): Permission denied/);
  if (denied) return { text: `permission denied${denied.m[1] || denied.m[2] ? ` on ${denied.m[1] ?? denied.m[2]}` : ""}` };
  // Nothing the app said: systemd's own account of how the main process ended (a signal from outside, a core dump,
  // or at least the exit status) is still more than "no cause".
  const ended = lastOf(journal, /Main process exited, code=(killed|dumped|exited), status=(\S+)/);
  if (ended?.m[1] === "killed")
    return { text: `the main process was killed by signal ${ended.m[2]} (nothing it logged says why: the OOM killer, a watchdog or an operator)` };
  if (ended?.m[1] === "dumped") return { text: `the main process crashed with signal ${ended.m[2]} and dumped core` };
  if (ended?.m[2]?.startsWith("3/"))
    return { text: `the main process exited with status ${ended.m[2]}: Gunicorn's "worker failed to boot" (the worker's exception goes to its error log)` };
  if (ended && ended.m[2] !== "0/SUCCESS") return { text: `the main process exited with status ${ended.m[2]} and logged no reason` };
  return undefined;
}

// Gunicorn's error log path from its ExecStart argv (--error-logfile X, --error-logfile=X, --log-file), if any.
export function errorLogPath(unit: Pick<Unit, "execStart">): string | undefined {
  const argv = unit.execStart?.argv ?? [];
  for (const [i, a] of argv.entries()) {
    const m = a.match(/^--(?:error-logfile|log-file)(?:=(.+))?$/);
    if (m) return m[1] ?? argv[i + 1];
  }
  return undefined;
}

// Why the service's last starts failed, from the unit's newest journal entries and the end of Gunicorn's error log;
// names the process holding the port when the cause is "address already in use". Undefined when nothing names it.
export function crashCause(ctx: ProbeContext): Promise<CrashCause | undefined> {
  return ctx.once("crash:cause", async () => {
    const unit = await serviceUnit(ctx);
    const log = errorLogPath(unit);
    const [j, e] = await Promise.all([
      ctx.transport.run(
        ["journalctl", "--no-pager", "-o", "json", "--output-fields=MESSAGE", "-n", String(CAUSE_JOURNAL_ENTRIES), "-u", unitName(ctx.config.service)],
        { maxOutputBytes: 4 * 1024 * 1024 },
      ),
      log && log !== "-" ? ctx.transport.run(["tail", "-c", String(CAUSE_LOG_BYTES), log]) : undefined,
    ]);
    if (j.exitCode !== 0) throw new TransportError(`journalctl failed (exit ${j.exitCode}): ${j.stderr.trim()}`);
    const errorLog = e && e.exitCode === 0 ? e.stdout.split("\n") : [];
    const cause = explainCrash(parseJournal(j.stdout, j.truncated === true, CAUSE_JOURNAL_ENTRIES), errorLog);
    if (cause?.port) {
      const holders = await listenersOn(ctx, cause.port);
      const who = holders.map((l) => `pid ${l.pid ?? "?"} (${l.comm ?? "?"})`).join(", ");
      return { ...cause, text: `${cause.text}, held by ${who || "no process now"}` };
    }
    return cause;
  });
}
