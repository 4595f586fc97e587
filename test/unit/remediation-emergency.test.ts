import { describe, expect, test } from "vitest";
import { baselineActions } from "../../src/remediation/emergency/baseline.ts";
import { cgroupOfUnit, parseProcCgroup, unitOfCgroup } from "../../src/remediation/emergency/cgroup.ts";
import { isStaleGunicorn } from "../../src/remediation/emergency/port-holders.ts";
import { isProjectGunicorn } from "../../src/remediation/emergency/procs.ts";
import { pidFiles, servicePorts } from "../../src/remediation/emergency/restart.ts";
import { StepLog } from "../../src/remediation/emergency/steps.ts";
import { renderUnit, type UnitFacts } from "../../src/remediation/emergency/unit-file.ts";
import { ConfigSchema } from "../../src/config/schema.ts";
import type { FileStat, Transport } from "../../src/transport/types.ts";

const where = { venvDir: "/opt/projectmeats/venv", projectDir: "/opt/projectmeats" };
const GUNICORN = ["/opt/projectmeats/venv/bin/python3", "/opt/projectmeats/venv/bin/gunicorn", "--bind", "127.0.0.1:8000", "projectmeats.wsgi:application"];

describe("cgroups", () => {
  test("a unit's cgroup path follows its slice's nesting", () => {
    expect(cgroupOfUnit("system.slice", "projectmeats.service")).toBe("/system.slice/projectmeats.service");
    expect(cgroupOfUnit("app-web.slice", "x.service")).toBe("/app.slice/app-web.slice/x.service");
    expect(cgroupOfUnit("-.slice", "x.service")).toBe("/x.service");
  });
  test("/proc/<pid>/cgroup: the unified line, else systemd's v1 hierarchy (recorded on a reference host)", () => {
    const hybrid = "9:name=systemd:/system.slice/projectmeats.service\n8:pids:/\n1:cpu:/\n0::/system.slice/projectmeats.service\n";
    expect(parseProcCgroup(hybrid)).toBe("/system.slice/projectmeats.service");
    expect(parseProcCgroup("1:name=systemd:/user.slice/session-3.scope\n")).toBe("/user.slice/session-3.scope");
    expect(unitOfCgroup("/system.slice/projectmeats.service")).toBe("projectmeats.service");
    expect(unitOfCgroup("/user.slice/user-0.slice/session-3.scope")).toBe("session-3.scope");
    expect(unitOfCgroup("/..")).toBeUndefined(); // a process of another cgroup namespace (nsenter from outside)
  });
});

describe("whose gunicorn is it", () => {
  test("the venv's gunicorn run from the project is ours; the same outside the project, or another venv, is not", () => {
    expect(isProjectGunicorn({ argv: GUNICORN, cwd: "/opt/projectmeats/backend" }, where)).toBe(true);
    expect(isProjectGunicorn({ argv: ["/opt/projectmeats/venv/bin/python", "-m", "gunicorn", "x:app"], cwd: "/opt/projectmeats" }, where)).toBe(true);
    expect(isProjectGunicorn({ argv: [...GUNICORN, "--chdir", "/opt/projectmeats/backend"], cwd: "/" }, where)).toBe(true);
    expect(isProjectGunicorn({ argv: GUNICORN, cwd: "/srv/other" }, where)).toBe(false);
    expect(isProjectGunicorn({ argv: ["/srv/other/venv/bin/python3", "/srv/other/venv/bin/gunicorn"], cwd: "/opt/projectmeats/backend" }, where)).toBe(false);
    expect(isProjectGunicorn({ argv: ["python3", "-m", "http.server", "8000"], cwd: "/opt/projectmeats" }, where)).toBe(false);
    expect(isProjectGunicorn({ argv: ["/opt/projectmeats/venv/bin/python3", "/opt/projectmeats/venv/bin/gunicornish"], cwd: "/opt/projectmeats" }, where)).toBe(false);
  });
  test("started by hand: in a session scope or no unit at all; a gunicorn inside some other service is that unit's", () => {
    const p = { pid: 9, ppid: 1, argv: GUNICORN, cwd: "/opt/projectmeats/backend" };
    expect(isStaleGunicorn({ ...p, unit: "session-3.scope" }, where)).toBe(true);
    expect(isStaleGunicorn({ ...p, unit: undefined }, where)).toBe(true);
    expect(isStaleGunicorn({ ...p, unit: "projectmeats-worker.service" }, where)).toBe(false);
  });
});

describe("what the unit needs", () => {
  const config = ConfigSchema.parse({});
  test("ports: the configured Gunicorn URL's and every --bind of ExecStart", () => {
    expect(servicePorts(config, { execStart: { path: "x", argv: ["gunicorn", "--bind", "127.0.0.1:8001", "-b", "unix:/run/x.sock", "app:app"] } })).toEqual([8000, 8001]);
  });
  test("pid files: PIDFile= and Gunicorn's --pid, -p and --pid=", () => {
    expect(pidFiles({ execStart: { path: "x", argv: ["gunicorn", "--pid", "/run/a.pid", "-p", "/run/b.pid", "--pid=/run/c.pid"] } }, "/run/d.pid")).toEqual(["/run/d.pid", "/run/a.pid", "/run/b.pid", "/run/c.pid"]);
    expect(pidFiles({ execStart: undefined }, "")).toEqual([]);
  });
});

const facts: UnitFacts = {
  unit: "projectmeats.service",
  user: "projectmeats",
  group: "www-data",
  projectDir: "/opt/projectmeats",
  workDir: "/opt/projectmeats/backend",
  venvDir: "/opt/projectmeats/venv",
  envFiles: ["/etc/projectmeats/projectmeats.env"],
  settingsModule: "apps.settings.production",
  port: 8000,
  wsgi: "projectmeats.wsgi:application",
  logDir: "/var/log/projectmeats",
  writable: ["/opt/projectmeats/backend/media"],
  postgresql: "postgresql.service",
};

describe("the rendered unit", () => {
  const text = renderUnit(facts);
  test("a good unit: non-root user, loopback bind, timeouts, Restart=on-failure, no SuccessExitStatus, sandbox", () => {
    for (const line of ["User=projectmeats", "Group=www-data", "WorkingDirectory=/opt/projectmeats/backend", "EnvironmentFile=/etc/projectmeats/projectmeats.env", "Restart=on-failure", "ProtectSystem=strict", "ReadWritePaths=/var/log/projectmeats /opt/projectmeats/backend/media", "NoNewPrivileges=true", "WantedBy=multi-user.target"]) expect(text.split("\n")).toContain(line);
    expect(text).toContain("ExecStart=/opt/projectmeats/venv/bin/gunicorn \\\n    --bind 127.0.0.1:8000");
    expect(text).toMatch(/--timeout 120 \\\n {4}--graceful-timeout 30/);
    expect(text).not.toMatch(/SuccessExitStatus|User=root|0\.0\.0\.0/);
  });
  test("systemd never SIGKILLs a master still stopping gracefully: TimeoutStopSec outlasts --graceful-timeout", () => {
    const stop = Number(text.match(/^TimeoutStopSec=(\d+)$/m)?.[1]);
    const graceful = Number(text.match(/--graceful-timeout (\d+)/)?.[1]);
    expect(stop).toBeGreaterThan(graceful);
  });
});

function fakeTransport(stats: Record<string, Partial<FileStat>>): Transport {
  return {
    name: "fake",
    run: async () => ({ exitCode: 0, stdout: "", stderr: "", durationMs: 0 }),
    readFile: async () => "",
    stat: async (p) => (stats[p] ? ({ isDirectory: false, isFile: true, size: 0, uid: 0, gid: 0, mode: 0, ...stats[p] } as FileStat) : undefined),
    readDir: async () => [],
    readLink: async () => undefined,
    close() {},
  };
}

describe("the permissions baseline", () => {
  const ids = { uid: 999, gid: 33 };
  test("a host already as the baseline wants gets no action", async () => {
    const t = fakeTransport({
      "/var/log/projectmeats": { isDirectory: true, isFile: false, mode: 0o40775, uid: 999, gid: 33 },
      "/var/log/projectmeats/error.log": { mode: 0o100664, uid: 999, gid: 33 },
      "/etc/projectmeats/projectmeats.env": { mode: 0o100640, uid: 999, gid: 33 },
    });
    expect(await baselineActions(t, facts, ids)).toEqual([]);
  });
  test("a missing log dir, a root-owned log and a world-readable env file owned by someone else are put right", async () => {
    const t = fakeTransport({
      "/var/log/projectmeats/error.log": { mode: 0o100644, uid: 0, gid: 0 },
      "/etc/projectmeats/projectmeats.env": { mode: 0o100644, uid: 33, gid: 33 },
    });
    expect(await baselineActions(t, facts, ids)).toEqual([
      { kind: "mkdir", path: "/var/log/projectmeats", mode: 0o775, owner: "projectmeats", group: "www-data" },
      { kind: "chown", path: "/var/log/projectmeats/error.log", owner: "projectmeats", group: "www-data" },
      { kind: "chmod", path: "/var/log/projectmeats/error.log", mode: 0o664 },
      { kind: "chown", path: "/etc/projectmeats/projectmeats.env", owner: "projectmeats", group: "www-data" },
      { kind: "chmod", path: "/etc/projectmeats/projectmeats.env", mode: 0o640 },
    ]);
  });
});

describe("progress lines", () => {
  test("each step prints its name, result and time; a thrown error is a failure; secrets are redacted", async () => {
    const lines: string[] = [];
    const log = new StepLog((l) => lines.push(l), () => ["s3cr3t-value-123"]);
    await log.run("stop x", async () => "x is inactive");
    await log.run("nothing to do", async () => ({ result: "skipped", detail: "empty" }));
    await log.run("start x", async () => {
      throw new Error("failed with password s3cr3t-value-123");
    });
    expect(lines[0]).toMatch(/^ {2}\[1\] stop x: ok \(\d+\.\d s\): x is inactive$/);
    expect(lines[1]).toMatch(/^ {2}\[2\] nothing to do: SKIPPED \(\d+\.\d s\): empty$/);
    expect(lines[2]).toMatch(/FAILED/);
    expect(lines[2]).not.toContain("s3cr3t-value-123");
    expect(log.troubled).toBe(true);
  });
});
