import { EXIT, RemediateError } from "../remediation/errors.ts";

export const USAGE = `usage: npm run schedule -- install [--every SPAN] [--on-failure CMD] [--dry-run]
       npm run schedule -- uninstall [--dry-run]
       npm run schedule -- status
  install     write ddv-gate.service and ddv-gate.timer (and ddv-gate-failed.service) in /etc/systemd/system,
              backed up like a remediation, and start the timer: the smoke gate runs as root from this checkout
  --every     how often, as systemd reads a time span: 15min (default), 1h, 30s (10 s at least)
  --on-failure CMD   run CMD (through /bin/sh, as root, kept in a root-only script) each time a gate run fails;
              it gets DDV_GATE=red, DDV_REPORTS_DIR and systemd's MONITOR_SERVICE_RESULT, MONITOR_EXIT_STATUS, MONITOR_UNIT
  uninstall   stop and remove what install wrote: /etc/systemd/system is byte-identical to before
  status      what is installed, the timer's next and last run, the last run's result
exit codes: 0 done, 1 a step failed (rolled back), 64 usage, 69 nothing installed (uninstall, status),
            70 internal error, 73 already installed or a unit of that name exists, or another remediation holds the lock,
            77 not root, 78 bad config, or a checkout root must not run (writable by another user)`;

export type ScheduleArgs = { command: "install" | "uninstall" | "status"; every: string; onFailure?: string; dryRun: boolean };

// systemd's time span units (systemd.time(7)), in seconds.
const UNIT_SECONDS: Record<string, number> = { s: 1, sec: 1, second: 1, seconds: 1, m: 60, min: 60, minute: 60, minutes: 60 };
Object.assign(UNIT_SECONDS, { h: 3600, hr: 3600, hour: 3600, hours: 3600, d: 86400, day: 86400, days: 86400, w: 604800, week: 604800, weeks: 604800 });

// Seconds in a span like "15min", "1h 30min" or "20s"; undefined when systemd would read it otherwise (a bare
// number is seconds to systemd but a surprise to a reader: refused).
export function spanSeconds(span: string): number | undefined {
  const parts = [...span.trim().matchAll(/(\d+)\s*([a-z]+)\s*/g)];
  if (!parts.length || parts.map((p) => p[0]).join("") !== span.trim()) return undefined;
  let total = 0;
  for (const [, n, unit] of parts) {
    const k = UNIT_SECONDS[unit as string];
    if (k === undefined) return undefined;
    total += Number(n) * k;
  }
  return total;
}

const usage = (why: string) => new RemediateError(`${why}\n${USAGE}`, EXIT.usage);

// Parses `schedule` arguments; bad input throws a RemediateError with exit 64 and one line of why.
export function parseScheduleArgs(argv: string[]): ScheduleArgs | "help" {
  const [command, ...rest] = argv;
  if (command === "help" || command === "--help" || command === "-h") return "help";
  if (command !== "install" && command !== "uninstall" && command !== "status")
    throw usage(command ? `unknown command ${JSON.stringify(command)}` : "say what to do: install, uninstall or status");
  const o: ScheduleArgs = { command, every: "15min", dryRun: false };
  const seen = new Set<string>();
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i] as string;
    if (seen.has(a)) throw usage(`${a} given twice`);
    seen.add(a);
    if (a === "--dry-run" && command !== "status") o.dryRun = true;
    else if ((a === "--every" || a === "--on-failure") && command === "install") {
      const v = rest[++i];
      if (v === undefined) throw usage(`${a} needs a value`);
      if (a === "--every") o.every = checkSpan(v);
      else o.onFailure = checkCommand(v);
    } else throw usage(`${command} takes no ${a.startsWith("-") ? "option" : "argument"} ${JSON.stringify(a)}`);
  }
  return o;
}

function checkSpan(v: string): string {
  const s = spanSeconds(v);
  if (s === undefined) throw usage(`--every ${JSON.stringify(v)} is not a time span: say 15min, 1h or 30s`);
  if (s < 10) throw usage(`--every ${v} is shorter than 10 s: the gate itself takes a few seconds`);
  return v.trim();
}

function checkCommand(v: string): string {
  if (!v.trim()) throw usage("--on-failure needs a command");
  if (/[\n\r\0]/.test(v)) throw usage("--on-failure's command must be one line (no newline or NUL)");
  return v;
}
