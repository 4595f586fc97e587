import { recorded } from "./replay.ts";

// Prefix of a `busctl get-property` call for one unit's D-Bus object (append the escaped unit name).
export const BUS = "busctl --json=short get-property org.freedesktop.systemd1 /org/freedesktop/systemd1/unit/";

// What a healthy reference host answers about its units: one `systemctl show` (recorded, or `showText`) and
// ExecStart of each unit over D-Bus (recorded); `projectmeatsExec` replaces the service's busctl answer.
export function healthyCommands(showText = recorded("systemctl-show-healthy.txt"), projectmeatsExec = recorded("busctl-execstart-projectmeats.json")) {
  return {
    "systemctl show": { stdout: showText },
    [`${BUS}projectmeats_2eservice `]: { stdout: projectmeatsExec },
    [`${BUS}postgresql_2eservice `]: { stdout: recorded("busctl-execstart-postgresql.json") },
    [`${BUS}nginx_2eservice `]: { stdout: recorded("busctl-execstart-nginx.json") },
  };
}
