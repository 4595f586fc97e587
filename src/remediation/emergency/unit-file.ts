import type { SocketPlan } from "./socket-unit.ts";
// What the rendered unit needs to know, all read from the config and the host (never from the unit it replaces,
// except the WSGI module when nothing else names it).
export type UnitFacts = {
  unit: string;
  user: string;
  group: string;
  projectDir: string;
  workDir: string;
  venvDir: string;
  // As the current unit names them ("-" optional ones included), else the config's that exist (required).
  envFiles: Array<{ path: string; optional: boolean }>;
  settingsModule: string;
  // Gunicorn's bind, kept as the deployment has it: the current --bind, the socket's ListenStream, else the endpoint.
  bind: string;
  // The .socket unit that starts the service (socket activation), kept: Requires= and After= name it.
  socket?: string;
  // The socket unit rewritten with the service (gone, broken, or shutting nginx out), when it is.
  socketPlan?: SocketPlan;
  type: string;
  runtimeDirectory: string[];
  // Gunicorn's log targets as the current unit has them ("-": the journal), else files in logDir.
  accessLog?: string;
  errorLog: string;
  // Gunicorn's worker options as the current unit has them (workers, class, threads, --preload, max-requests), else
  // the reference's; and its timeouts (the current ones, else 120 s and 30 s).
  workerArgs: string[];
  timeout: number;
  gracefulTimeout: number;
  wsgi: string;
  logDir: string | null;
  // Directories the app writes besides its logs (media uploads), when they exist.
  writable: string[];
  // "read-only" when the project or its venv lives under /home (ProtectHome=true would hide the app).
  protectHome: "true" | "read-only";
  postgresql: string;
  // What was kept from the current deployment, said in the plan.
  kept: string[];
};

// The reference's worker options, for a unit that has none to keep.
export const DEFAULT_WORKER_ARGS = ["--workers 3", "--worker-class gthread", "--threads 2", "--max-requests 1000", "--max-requests-jitter 100"];

// The unit as a good ProjectMeats unit is (the reference unit, fixtures/image/projectmeats.service): a non-root user,
// loopback bind, Gunicorn timeouts, Restart=on-failure, no SuccessExitStatus=, and systemd's sandbox with the log
// directory (and media) the only writable paths. TimeoutStopSec= outlasts --graceful-timeout, so systemd never SIGKILLs
// a master still stopping its workers (which would leave them holding the port).
export function renderUnit(f: UnitFacts): string {
  const bin = `${f.venvDir}/bin`;
  const gunicorn = [
    `${bin}/gunicorn`,
    `--bind ${f.bind}`,
    ...f.workerArgs,
    ...(f.accessLog ? [`--access-logfile ${f.accessLog}`] : []),
    `--error-logfile ${f.errorLog}`,
    "--log-level info",
    `--timeout ${f.timeout}`,
    `--graceful-timeout ${f.gracefulTimeout}`,
    f.wsgi,
  ];
  const runtimeDirectory = f.runtimeDirectory.length ? `RuntimeDirectory=${f.runtimeDirectory.join(" ")}\n` : "";
  const envFiles = f.envFiles.map((e) => `EnvironmentFile=${e.optional ? "-" : ""}${e.path}\n`).join("");
  return `# Rendered by ddv emergency-reset from the validator's config; the unit it replaced is in the run's backup folder.
[Unit]
Description=${f.unit.replace(/\.service$/, "")} Django application (Gunicorn)
After=network.target ${f.postgresql}${f.socket ? ` ${f.socket}` : ""}
Wants=${f.postgresql}
${f.socket ? `Requires=${f.socket}\n` : ""}
[Service]
Type=${f.type}
User=${f.user}
Group=${f.group}
WorkingDirectory=${f.workDir}
Environment=PATH=${bin}:/usr/bin:/bin
Environment=DJANGO_SETTINGS_MODULE=${f.settingsModule}
Environment=PYTHONPATH=${f.workDir}
${runtimeDirectory}${envFiles}ExecStart=${gunicorn.join(" \\\n    ")}
ExecReload=/bin/kill -s HUP $MAINPID
KillMode=mixed
TimeoutStopSec=${f.gracefulTimeout + 10}
Restart=on-failure
RestartSec=2

# Hardening
NoNewPrivileges=true
PrivateTmp=true
ProtectSystem=strict
ProtectHome=${f.protectHome}
${writablePaths(f).length ? `ReadWritePaths=${writablePaths(f).join(" ")}\n` : ""}ProtectKernelTunables=true
ProtectKernelModules=true
ProtectKernelLogs=true
ProtectControlGroups=true
ProtectClock=true
ProtectHostname=true
RestrictSUIDSGID=true
RestrictRealtime=true
RestrictNamespaces=true
LockPersonality=true
SystemCallArchitectures=native
CapabilityBoundingSet=
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
UMask=0027

[Install]
WantedBy=multi-user.target
`;
}

// Whether Gunicorn writes log files in logDir (not the journal): then the log directory is writable and baselined.
export function logsToFiles(f: Pick<UnitFacts, "accessLog" | "errorLog" | "logDir">): boolean {
  return !!f.logDir && [f.accessLog, f.errorLog].some((l) => l?.startsWith(`${f.logDir}/`));
}

const writablePaths = (f: UnitFacts) => [...new Set([...(logsToFiles(f) && f.logDir ? [f.logDir] : []), ...f.writable])];

// What an emptied drop-in holds: the rendered unit is the whole configuration (the original is in the backup).
export const NEUTRAL_DROPIN = "# Emptied by ddv emergency-reset: the rendered unit is the whole configuration; the original is in the run's backup folder.\n";
