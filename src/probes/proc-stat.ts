// Reading /proc/<pid>/stat, and telling a process systemd has forked but not yet exec'd.

export type ProcStat = { state: string; startTime: number; comm: string };

// The command name (field 2), state (field 3) and start time in clock ticks since boot (field 22) of /proc/<pid>/stat.
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")"); // the command name may itself hold spaces and parentheses
  if (open < 0 || close < open) return undefined;
  const f = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const startTime = Number(f[19]);
  return f[0] && Number.isInteger(startTime) ? { state: f[0], startTime, comm: text.slice(open + 1, close) } : undefined;
}

// Whether a command name is the one systemd gives the child it forked for a unit, "(<binary>)", until that child
// execs the unit's program: until then it is root in a half-built sandbox with PID 1's environment, though systemd
// already counts a Type=simple unit as running. (The name comes from /proc/<pid>/stat's field 2 or status's Name:.)
export function isForkedNotExeced(comm: string): boolean {
  return /^\(.*\)$/.test(comm);
}
