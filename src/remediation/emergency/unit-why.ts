// Why an emergency reset sets a directive the current unit has otherwise: one reason per directive, said in the plan.
const WHY: Record<string, string> = {
  ExecStart: "Gunicorn with the kept bind, worker options and log targets, and explicit timeouts (SVC-008)",
  Restart: "on-failure: a crash is restarted (SVC-009)",
  RestartSec: "a short pause before a restart",
  SuccessExitStatus: "a crash must not count as a clean exit (SVC-017)",
  TimeoutStopSec: "outlasts --graceful-timeout: systemd never SIGKILLs a master still stopping its workers",
  ExecStartPre: "not carried over: a reset starts from the unit's essentials (the original is in the backup)",
  ExecStopPost: "not carried over: a reset starts from the unit's essentials (the original is in the backup)",
  Environment: "PATH also holds /usr/bin and /bin (Gunicorn's and Django's own subprocesses); settings module and PYTHONPATH as configured",
  ReadWritePaths: "only what the app writes (Gunicorn's log directory, MEDIA_ROOT, upload and LOGGING directories) stays writable under ProtectSystem=strict",
  RuntimeDirectoryMode: "systemd's default (0755)",
  Description: "names the service and what runs it",
  After: "starts after the network, the database (and the socket)",
  Wants: "pulls in the database",
};
// systemd's sandbox: the directives systemd-analyze security rates (SEC-009).
const SANDBOX = new RegExp(
  "^(NoNewPrivileges|PrivateTmp|Protect\\w+|Restrict\\w+|LockPersonality|SystemCallArchitectures|" +
    "CapabilityBoundingSet|UMask|MemoryDenyWriteExecute|PrivateDevices)$",
);

// Key → values of a unit file's directives (continuation lines joined, comments and section headers left out).
export function directives(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const lines = text.replace(/\\\n\s*/g, " ").split("\n");
  for (const l of lines) {
    const m = l.match(/^\s*([A-Za-z]\w*)\s*=\s*(.*?)\s*$/);
    if (m) out.set(m[1] as string, [...(out.get(m[1] as string) ?? []), m[2] as string]);
  }
  return out;
}

// One line per directive the rendered unit changes, adds or drops against the current unit, with its reason.
export function explainChanges(current: string, rendered: string): string[] {
  const before = directives(current);
  const after = directives(rendered);
  const out: string[] = [];
  for (const key of [...new Set([...before.keys(), ...after.keys()])]) {
    const b = before.get(key) ?? [];
    const a = after.get(key) ?? [];
    if (b.join("\n") === a.join("\n")) continue;
    const how = !b.length ? "added" : !a.length ? "dropped" : "changed";
    const why = WHY[key] ?? (SANDBOX.test(key) ? "systemd's sandbox (SEC-009)" : "the reference unit's value");
    out.push(`${key}: ${how} (${why})`);
  }
  return out;
}
