// The systemd units `npm run schedule -- install` writes: the gate as a oneshot service, its timer, and (with
// --on-failure) the service systemd starts when a gate run fails. Pure text, so tests read exactly what is installed.

// Where the units go, and their names.
export const UNIT_DIR = "/etc/systemd/system";
export const GATE = "ddv-gate";
export const UNITS = { service: `${GATE}.service`, timer: `${GATE}.timer`, failure: `${GATE}-failed.service` } as const;
// The gate's own state (systemd's StateDirectory=, made by systemd): its reports, history and run record.
export const GATE_STATE = `/var/lib/ddv/gate`;
export const GATE_REPORTS = `${GATE_STATE}/reports`;

// What the units are made from: the checkout and node that run the gate, how often, the failure command, and the
// environment the gate keeps from the install (DEPLOY_CONFIG, DDV_TEXTFILE_DIR and the like).
export type GateSpec = { checkout: string; node: string; every: string; onFailure?: string; env: Record<string, string> };

// One word of an Exec line, as systemd reads it back: % and $ are literal, quotes and backslashes escaped.
export function execWord(s: string): string {
  if (/[\n\r\0]/.test(s)) throw new Error("a command line for systemd cannot hold a newline or NUL");
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/%/g, "%%").replace(/\$/g, "$$$$")}"`;
}

// One Environment= assignment, quoted whole (systemd unquotes it; % is its specifier sign).
function envLine(name: string, value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`${JSON.stringify(name)} is not an environment variable name`);
  if (/[\n\r\0]/.test(value)) throw new Error(`${name}'s value holds a newline or NUL`);
  return `Environment="${name}=${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/%/g, "%%")}"`;
}

// The gate: `vitest run specs/smoke` from the checkout, as root, its reports under the state directory.
export function gateService(g: GateSpec): string {
  const env = { ...g.env, DDV_REPORTS_DIR: GATE_REPORTS, NO_COLOR: "1" };
  return [
    "# Written by `npm run schedule -- install` (django-deploy-validator); removed by `npm run schedule -- uninstall`.",
    "[Unit]",
    "Description=django-deploy-validator smoke gate (vitest run specs/smoke)",
    `Documentation=file://${g.checkout}/README.md`,
    ...(g.onFailure ? [`OnFailure=${UNITS.failure}`] : []),
    "",
    "[Service]",
    "Type=oneshot",
    `WorkingDirectory=${g.checkout}`,
    ...Object.entries(env).map(([k, v]) => envLine(k, v)),
    `ExecStart=${[g.node, `${g.checkout}/node_modules/vitest/vitest.mjs`, "run", "specs/smoke"].map(execWord).join(" ")}`,
    "StateDirectory=ddv/gate",
    "StateDirectoryMode=0700",
    "TimeoutStartSec=15min",
    "",
  ].join("\n");
}

// The timer: first run one interval after it starts (install, boot), then one interval after each run began.
export function gateTimer(g: GateSpec): string {
  return [
    "# Written by `npm run schedule -- install` (django-deploy-validator); removed by `npm run schedule -- uninstall`.",
    "[Unit]",
    `Description=django-deploy-validator smoke gate, every ${g.every}`,
    "",
    "[Timer]",
    `OnActiveSec=${g.every}`,
    `OnUnitActiveSec=${g.every}`,
    // systemd's default (1 min) would coalesce short intervals.
    "AccuracySec=1s",
    "",
    "[Install]",
    "WantedBy=timers.target",
    "",
  ].join("\n");
}

// The operator's --on-failure command, kept root-only (0700) outside the unit: a unit's ExecStart is readable by
// every local user (systemctl show), and the command may carry a webhook's token.
export const FAILURE_SCRIPT = "/var/lib/ddv/schedule/on-failure.sh";

// The script's text: the command exactly as typed, run by /bin/sh.
export function failureScript(command: string): string {
  return `#!/bin/sh\n# Written by \`npm run schedule -- install --on-failure\`: run when ${UNITS.service} fails.\n${command}\n`;
}

// Started by systemd when a gate run fails (OnFailure=): the failure script, with systemd's MONITOR_SERVICE_RESULT,
// MONITOR_EXIT_CODE, MONITOR_EXIT_STATUS, MONITOR_UNIT and our DDV_GATE=red, DDV_REPORTS_DIR.
export function failureService(): string {
  return [
    "# Written by `npm run schedule -- install --on-failure` (django-deploy-validator); removed by uninstall.",
    "[Unit]",
    `Description=django-deploy-validator: the smoke gate is red (${UNITS.service} failed)`,
    "",
    "[Service]",
    "Type=oneshot",
    envLine("DDV_GATE", "red"),
    envLine("DDV_REPORTS_DIR", GATE_REPORTS),
    `ExecStart=/bin/sh ${FAILURE_SCRIPT}`,
    "",
  ].join("\n");
}
