import { describe, expect, test } from "vitest";
import { baselineActions } from "../../src/remediation/emergency/baseline.ts";
import { cgroupOfUnit, parseProcCgroup, unitOfCgroup } from "../../src/remediation/emergency/cgroup.ts";
import { isStaleGunicorn } from "../../src/remediation/emergency/port-holders.ts";
import { isProjectGunicorn } from "../../src/remediation/emergency/procs.ts";
import { pidFiles, servicePorts } from "../../src/remediation/emergency/restart.ts";
import { StepLog } from "../../src/remediation/emergency/steps.ts";
import { DEFAULT_WORKER_ARGS, renderUnit, type UnitFacts } from "../../src/remediation/emergency/unit-file.ts";
import { ConfigSchema } from "../../src/config/schema.ts";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLocalTransport } from "../../src/transport/local.ts";

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
    expect(isProjectGunicorn({ argv: ["/opt/projectmeats/venv/bin/python3", "/opt/projectmeats/venv/bin/gunicornish"], cwd: "/opt/projectmeats" }, where)).toBe(
      false,
    );
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
  test("ports: the configured Gunicorn URL's and every --bind of ExecStart; Gunicorn's default only when nothing binds", () => {
    const argv = ["gunicorn", "--bind", "127.0.0.1:8001", "-b", "unix:/run/x.sock", "app:app"];
    expect(servicePorts(config, { execStart: { path: "x", argv } })).toEqual([8001]);
    expect(servicePorts({ ...config, gunicornUrl: "http://127.0.0.1:8000" }, { execStart: { path: "x", argv } })).toEqual([8000, 8001]);
    expect(servicePorts(config, { execStart: { path: "x", argv: ["gunicorn", "app:app"] } })).toEqual([8000]);
    expect(servicePorts(config, { execStart: { path: "x", argv: ["gunicorn", "-b", "unix:/run/x.sock", "app:app"] } })).toEqual([]);
  });
  test("pid files: PIDFile= and Gunicorn's --pid, -p and --pid=", () => {
    expect(pidFiles({ execStart: { path: "x", argv: ["gunicorn", "--pid", "/run/a.pid", "-p", "/run/b.pid", "--pid=/run/c.pid"] } }, "/run/d.pid")).toEqual([
      "/run/d.pid",
      "/run/a.pid",
      "/run/b.pid",
      "/run/c.pid",
    ]);
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
  envFiles: [{ path: "/etc/projectmeats/projectmeats.env", optional: false }],
  settingsModule: "apps.settings.production",
  bind: "127.0.0.1:8000",
  type: "simple",
  runtimeDirectory: [],
  accessLog: "/var/log/projectmeats/access.log",
  errorLog: "/var/log/projectmeats/error.log",
  workerArgs: DEFAULT_WORKER_ARGS,
  timeout: 120,
  gracefulTimeout: 30,
  wsgi: "projectmeats.wsgi:application",
  logDir: "/var/log/projectmeats",
  writable: ["/opt/projectmeats/backend/media"],
  protectHome: "true",
  postgresql: "postgresql.service",
  kept: [],
};

describe("the rendered unit", () => {
  const text = renderUnit(facts);
  test("a good unit: non-root user, loopback bind, timeouts, Restart=on-failure, no SuccessExitStatus, sandbox", () => {
    for (const line of [
      "User=projectmeats",
      "Group=www-data",
      "WorkingDirectory=/opt/projectmeats/backend",
      "EnvironmentFile=/etc/projectmeats/projectmeats.env",
      "Restart=on-failure",
      "ProtectSystem=strict",
      "ReadWritePaths=/var/log/projectmeats /opt/projectmeats/backend/media",
      "NoNewPrivileges=true",
      "WantedBy=multi-user.target",
    ])
      expect(text.split("\n")).toContain(line);
    expect(text).toContain("ExecStart=/opt/projectmeats/venv/bin/gunicorn \\\n    --bind 127.0.0.1:8000");
    expect(text).toMatch(/--timeout 120 \\\n {4}--graceful-timeout 30/);
    expect(text).not.toMatch(/SuccessExitStatus|User=root|0\.0\.0\.0/);
  });
  test("the deployment's shape is kept: socket activation, a unix bind, Type=, RuntimeDirectory=, optional env files, journal logs, a project under /home", () => {
    const socketed = renderUnit({
      ...facts,
      bind: "unix:/run/projectmeats.sock",
      socket: "projectmeats.socket",
      type: "notify",
      runtimeDirectory: ["projectmeats"],
      envFiles: [
        { path: "/etc/projectmeats/projectmeats.env", optional: true },
        { path: "/opt/projectmeats/backend/.env", optional: true },
      ],
    }).split("\n");
    for (const line of [
      "Requires=projectmeats.socket",
      "After=network.target postgresql.service projectmeats.socket",
      "Type=notify",
      "RuntimeDirectory=projectmeats",
      "EnvironmentFile=-/etc/projectmeats/projectmeats.env",
      "EnvironmentFile=-/opt/projectmeats/backend/.env",
      "    --bind unix:/run/projectmeats.sock \\",
    ])
      expect(socketed).toContain(line);
    const tutorial = renderUnit({
      ...facts,
      projectDir: "/home/sammy/myprojectdir",
      workDir: "/home/sammy/myprojectdir",
      logDir: "/home/sammy/myprojectdir",
      envFiles: [],
      accessLog: "-",
      errorLog: "-",
      writable: [],
      protectHome: "read-only",
    }).split("\n");
    expect(tutorial).toContain("ProtectHome=read-only");
    expect(tutorial).toContain("    --access-logfile - \\");
    expect(tutorial.filter((l) => /^(EnvironmentFile|ReadWritePaths|Requires)=/.test(l))).toEqual([]);
  });
  test("systemd never SIGKILLs a master still stopping gracefully: TimeoutStopSec outlasts --graceful-timeout", () => {
    const stop = Number(text.match(/^TimeoutStopSec=(\d+)$/m)?.[1]);
    const graceful = Number(text.match(/--graceful-timeout (\d+)/)?.[1]);
    expect(stop).toBeGreaterThan(graceful);
  });
});

// The baseline looks at a real tree through the real file helper (python3), links never followed.
describe("the permissions baseline", () => {
  const me = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  const other = me.uid === 0 ? 1 : 0;
  const tree = () => {
    const root = mkdtempSync(path.join(tmpdir(), "ddv-baseline-"));
    mkdirSync(path.join(root, "etc"));
    const logDir = path.join(root, "log");
    const logs = { accessLog: path.join(logDir, "access.log"), errorLog: path.join(logDir, "error.log") };
    return { root, f: { ...facts, logDir, ...logs, envFiles: [{ path: path.join(root, "etc/app.env"), optional: false }] } };
  };
  const t = createLocalTransport();
  test("a host already as the baseline wants gets no action", async () => {
    const { root, f } = tree();
    mkdirSync(f.logDir, { mode: 0o775 });
    chmodSync(f.logDir, 0o775);
    writeFileSync(path.join(f.logDir, "error.log"), "", { mode: 0o664 });
    chmodSync(path.join(f.logDir, "error.log"), 0o664);
    writeFileSync(f.envFiles[0]?.path as string, "A=1\n", { mode: 0o640 });
    expect(await baselineActions(t, f, me)).toEqual({ actions: [], notes: [] });
    rmSync(root, { recursive: true });
  });
  test("a missing log dir is made; a world-readable env file owned by someone else is put right", async () => {
    const { root, f } = tree();
    writeFileSync(f.envFiles[0]?.path as string, "A=1\n", { mode: 0o644 });
    chmodSync(f.envFiles[0]?.path as string, 0o644);
    const env = statSync(f.envFiles[0]?.path as string);
    const { actions, notes } = await baselineActions(t, f, { uid: other, gid: other });
    const pin = { dev: env.dev, ino: env.ino, mode: 0o644, uid: env.uid, gid: env.gid };
    expect(notes).toEqual([]);
    expect(actions).toEqual([
      { kind: "mkdir", path: f.logDir, mode: 0o775, owner: "projectmeats", group: "www-data" },
      ...(me.uid === 0 ? [] : [{ kind: "chown", path: f.envFiles[0]?.path, owner: "projectmeats", group: "www-data", expect: pin }]),
      { kind: "chmod", path: f.envFiles[0]?.path, mode: 0o640, expect: pin },
    ]);
    rmSync(root, { recursive: true });
  });
  test("log files that are links the service planted are left alone and named, never chowned or chmodded", async () => {
    const { root, f } = tree();
    mkdirSync(f.logDir, { mode: 0o775 });
    chmodSync(f.logDir, 0o775);
    symlinkSync("/etc/shadow", path.join(f.logDir, "error.log"));
    symlinkSync("/etc/hostname", path.join(f.logDir, "access.log"));
    const { actions, notes } = await baselineActions(t, f, me);
    expect(actions.filter((a) => "path" in a && a.path.startsWith(f.logDir))).toEqual([]);
    expect(notes).toEqual([
      `${f.logDir}/error.log left alone: it is a symbolic link (to /etc/shadow), and root does not act through links`,
      `${f.logDir}/access.log left alone: it is a symbolic link (to /etc/hostname), and root does not act through links`,
    ]);
    rmSync(root, { recursive: true });
  });
  test("a log directory that is itself a link: its files are not looked at through it", async () => {
    const { root, f } = tree();
    const elsewhere = mkdtempSync(path.join(tmpdir(), "ddv-elsewhere-"));
    writeFileSync(path.join(elsewhere, "error.log"), "", { mode: 0o600 });
    symlinkSync(elsewhere, f.logDir);
    const { actions, notes } = await baselineActions(t, f, me);
    expect(actions.filter((a) => "path" in a && a.path.startsWith(f.logDir))).toEqual([]);
    expect(notes[0]).toBe(`${f.logDir} left alone: it is a symbolic link (to ${elsewhere}), and root does not act through links`);
    rmSync(root, { recursive: true });
    rmSync(elsewhere, { recursive: true });
  });
});

describe("progress lines", () => {
  test("each step prints its name, result and time; a thrown error is a failure; secrets are redacted", async () => {
    const lines: string[] = [];
    const log = new StepLog(
      (l) => lines.push(l),
      () => ["s3cr3t-value-123"],
    );
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

describe("why each directive of the rendered unit changes", () => {
  test("changed, added and dropped directives each get one line with a reason; unchanged ones none", async () => {
    const { explainChanges } = await import("../../src/remediation/emergency/unit-why.ts");
    const current = "[Service]\nUser=projectmeats\nRestart=always\nSuccessExitStatus=0 1 2\nExecStart=/x/gunicorn \\\n    --bind 127.0.0.1:8000 app\n";
    const rendered = "[Service]\nUser=projectmeats\nRestart=on-failure\nExecStart=/x/gunicorn \\\n    --bind 127.0.0.1:8000 app\nProtectClock=true\n";
    expect(explainChanges(current, rendered)).toEqual([
      "Restart: changed (on-failure: a crash is restarted (SVC-009))",
      "SuccessExitStatus: dropped (a crash must not count as a clean exit (SVC-017))",
      "ProtectClock: added (systemd's sandbox (SEC-009))",
    ]);
  });
});
