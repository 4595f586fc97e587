// What the rendered unit needs to know, all read from the config and the host (never from the unit it replaces,
// except the WSGI module when nothing else names it).
export type UnitFacts = {
  unit: string;
  user: string;
  group: string;
  projectDir: string;
  workDir: string;
  venvDir: string;
  envFiles: string[];
  settingsModule: string;
  port: number;
  wsgi: string;
  logDir: string;
  // Directories the app writes besides its logs (media uploads), when they exist.
  writable: string[];
  postgresql: string;
};

// The unit as a good ProjectMeats unit is (the reference unit, fixtures/image/projectmeats.service): a non-root user,
// loopback bind, Gunicorn timeouts, Restart=on-failure, no SuccessExitStatus=, and systemd's sandbox with the log
// directory (and media) the only writable paths. TimeoutStopSec= outlasts --graceful-timeout, so systemd never SIGKILLs
// a master still stopping its workers (which would leave them holding the port).
export function renderUnit(f: UnitFacts): string {
  const bin = `${f.venvDir}/bin`;
  const gunicorn = [
    `${bin}/gunicorn`,
    `--bind 127.0.0.1:${f.port}`,
    "--workers 3",
    "--worker-class gthread",
    "--threads 2",
    "--max-requests 1000",
    "--max-requests-jitter 100",
    `--access-logfile ${f.logDir}/access.log`,
    `--error-logfile ${f.logDir}/error.log`,
    "--log-level info",
    "--timeout 120",
    "--graceful-timeout 30",
    f.wsgi,
  ];
  return `# Rendered by ddv emergency-reset from the validator's config; the unit it replaced is in the run's backup folder.
[Unit]
Description=${f.unit.replace(/\.service$/, "")} Django application (Gunicorn)
After=network.target ${f.postgresql}
Wants=${f.postgresql}

[Service]
Type=simple
User=${f.user}
Group=${f.group}
WorkingDirectory=${f.workDir}
Environment=PATH=${bin}:/usr/bin:/bin
Environment=DJANGO_SETTINGS_MODULE=${f.settingsModule}
Environment=PYTHONPATH=${f.workDir}
${f.envFiles.map((e) => `EnvironmentFile=${e}`).join("\n")}
ExecStart=${gunicorn.join(" \\\n    ")}
ExecReload=/bin/kill -s HUP $MAINPID
KillMode=mixed
TimeoutStopSec=40
Restart=on-failure
RestartSec=2

# Hardening
NoNewPrivileges=true
PrivateTmp=true
ProtectSystem=strict
ProtectHome=true
ReadWritePaths=${[f.logDir, ...f.writable].join(" ")}
ProtectKernelTunables=true
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

// What an emptied drop-in holds: the rendered unit is the whole configuration (the original is in the backup).
export const NEUTRAL_DROPIN = "# Emptied by ddv emergency-reset: the rendered unit is the whole configuration; the original is in the run's backup folder.\n";
