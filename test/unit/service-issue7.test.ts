import { describe, expect, test } from "vitest";
import { serviceChecks } from "../../src/checks/service.ts";
import { errorLogPath, explainCrash } from "../../src/probes/crash-cause.ts";
import { operatorEnvFile, shadowedKeys, type EnvSource } from "../../src/probes/environment.ts";
import { parseJournal, parseSecurity, parseSuccessExitStatus, showUnits } from "../../src/probes/systemd.ts";
import { healthyCommands } from "./healthy-replay.ts";
import { recorded, replayContext, replayTransport } from "./replay.ts";

const check = (id: string) => serviceChecks.find((c) => c.id === id)!;

describe("SEC-009: the heaviest items of systemd-analyze security", () => {
  test("sorted by exposure, as the same host's --json=short ranks them", () => {
    const s = parseSecurity(recorded("systemd-analyze-security-as-shipped.txt"))!;
    expect(s.score).toBe(7.6);
    // The table's first exposed rows are RemoveIPC= 0.1 and RootDirectory= 0.1; the heaviest is PrivateNetwork= 0.5.
    expect(s.worst[0]).toBe("PrivateNetwork= 0.5 (Service has access to the host's network)");
    const json = JSON.parse(recorded("systemd-analyze-security-as-shipped.json")) as Array<{ name: string; exposure: string | null }>;
    const heaviest = Math.max(...json.map((j) => Number(j.exposure ?? 0)));
    const top = json.filter((j) => Number(j.exposure ?? 0) === heaviest).map((j) => j.name);
    expect(top).toEqual(["PrivateNetwork="]);
    const exposures = s.worst.map((w) => Number(w.split(" ")[1]));
    expect(exposures).toEqual([...exposures].sort((a, b) => b - a));
    expect(s.worst.length).toBe(json.filter((j) => j.exposure !== null && Number(j.exposure) > 0).length);
  });
});

describe("SuccessExitStatus (SVC-017)", () => {
  test("systemctl show's format on systemd 252: statuses, then signal names", () => {
    expect(parseSuccessExitStatus("0 1 2 USR1")).toEqual({ statuses: [0, 1, 2], signals: ["USR1"] });
    expect(parseSuccessExitStatus("")).toEqual({ statuses: [], signals: [] });
  });
});

describe("SVC-012: the PostgreSQL cluster unit, not only the umbrella", () => {
  test("fails when postgresql@15-main is stopped while postgresql.service stays active (exited)", async () => {
    // The more specific prefix first: the replay answers with the first key that prefixes the command.
    const cmds = {
      "systemctl show --no-pager postgresql@15-main.service": { stdout: recorded("systemctl-show-pg-cluster-part-stopped.txt") },
      ...healthyCommands(recorded("systemctl-show-pg-cluster-stopped.txt")),
    };
    const ctx = replayContext(replayTransport(cmds));
    const units = await showUnits(ctx);
    expect(units.get("postgresql")?.activeState).toBe("active");
    expect(units.get("postgresql")?.consistsOf).toEqual(["postgresql@15-main.service"]);
    const v = await check("SVC-012").run(ctx);
    expect(v.pass).toBe(false);
    expect(v.observed).toContain("postgresql@15-main.service: ActiveState=inactive SubState=dead");
  });
});

describe("SVC-003 explains a crash loop", () => {
  test("as shipped: exit 1 is 'success', the journal holds gunicorn's --preload 'Error:' line", () => {
    const lines = parseJournal(recorded("journal-unit-crash-loop-as-shipped.jsonl"), false);
    expect(explainCrash(lines)?.text).toBe("Gunicorn: Error: bad deploy: settings cannot load");
  });
  test("reference: the journal holds only gunicorn's HaltServer; the worker's exception is in its error log", () => {
    const journal = parseJournal(recorded("journal-unit-crash-loop-reference.jsonl"), false);
    expect(explainCrash(journal)?.text).toBe(
      `the main process exited with status 3/NOTIMPLEMENTED: Gunicorn's "worker failed to boot" (the worker's exception goes to its error log)`,
    );
    const log = recorded("gunicorn-error-log-import-error.txt").split("\n");
    expect(explainCrash(journal, log)?.text).toBe(
      "RuntimeError: bad deploy: settings cannot load (raised in /opt/projectmeats/backend/apps/settings/production.py line 7)",
    );
  });
  test("nothing the app said: systemd's account of how the main process ended", () => {
    const exited = (how: string) => [`projectmeats.service: Main process exited, ${how}`, "projectmeats.service: Failed with result 'signal'."];
    expect(explainCrash(exited("code=killed, status=9/KILL"))?.text).toMatch(/^the main process was killed by signal 9\/KILL /);
    expect(explainCrash(exited("code=dumped, status=11/SEGV"))?.text).toBe("the main process crashed with signal 11/SEGV and dumped core");
    expect(explainCrash(exited("code=exited, status=1/FAILURE"))?.text).toBe("the main process exited with status 1/FAILURE and logged no reason");
    expect(explainCrash(exited("code=exited, status=0/SUCCESS"))).toBeUndefined();
  });
  test("a program that cannot execute, a failed ExecStartPre, a port in use, permission denied", () => {
    expect(explainCrash(["projectmeats.service: Failed to execute /opt/x/pre.sh: Permission denied"])?.text).toBe(
      "cannot execute /opt/x/pre.sh: Permission denied",
    );
    expect(
      explainCrash([
        "ERROR: Log file /var/log/projectmeats/error.log does not exist",
        "projectmeats.service: Control process exited, code=exited, status=1/FAILURE",
      ])?.text,
    ).toBe("a start-up command (ExecStartPre) exited exited status 1/FAILURE: ERROR: Log file /var/log/projectmeats/error.log does not exist");
    expect(explainCrash(["[2026-11-29 20:00:00 +0000] [9] [ERROR] Connection in use: ('127.0.0.1', 8000)"])).toEqual({
      text: "address already in use (127.0.0.1:8000)",
      port: 8000,
    });
    expect(explainCrash(["touch: cannot touch '/var/log/x': Permission denied"])?.text).toMatch(/^permission denied/);
  });
  test("Gunicorn's error log path from ExecStart", () => {
    expect(errorLogPath({ execStart: { path: "g", argv: ["g", "--error-logfile", "/var/log/p/error.log"] } })).toBe("/var/log/p/error.log");
    expect(errorLogPath({ execStart: { path: "g", argv: ["g", "--error-logfile=/e.log"] } })).toBe("/e.log");
    expect(errorLogPath({ execStart: { path: "g", argv: ["g"] } })).toBeUndefined();
  });
});

describe("env sources (SVC-018, SVC-019)", () => {
  const src = (name: string, env: Record<string, string>, optional = true, kind: EnvSource["kind"] = "EnvironmentFile="): EnvSource => ({
    name,
    kind,
    optional,
    exists: true,
    env,
  });
  const asShipped = [
    src("Environment=", { DJANGO_SETTINGS_MODULE: "x", PATH: "/bin" }, false, "Environment="),
    src("/etc/projectmeats/projectmeats.env", { SECRET_KEY: "a", DJANGO_SETTINGS_MODULE: "x" }),
    src("/opt/projectmeats/.env.production", { SECRET_KEY: "a", DJANGO_SETTINGS_MODULE: "x" }),
  ];
  test("the last source wins; both optional: the first file is the operator's", () => {
    expect(shadowedKeys(asShipped)).toEqual([
      {
        key: "DJANGO_SETTINGS_MODULE",
        setBy: ["Environment=", "/etc/projectmeats/projectmeats.env", "/opt/projectmeats/.env.production"],
        winner: "/opt/projectmeats/.env.production",
      },
      { key: "SECRET_KEY", setBy: ["/etc/projectmeats/projectmeats.env", "/opt/projectmeats/.env.production"], winner: "/opt/projectmeats/.env.production" },
    ]);
    expect(operatorEnvFile(asShipped)?.name).toBe("/etc/projectmeats/projectmeats.env");
  });
  test("a required file is the operator's even when listed later", () => {
    expect(operatorEnvFile([asShipped[0]!, asShipped[1]!, { ...asShipped[2]!, optional: false }])?.name).toBe("/opt/projectmeats/.env.production");
  });
});
