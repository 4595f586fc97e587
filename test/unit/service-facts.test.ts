import { beforeEach, describe, expect, test } from "vitest";
import { databaseChecks } from "../../src/checks/database.ts";
import { GIT_HEAD, securityChecks } from "../../src/checks/security.ts";
import { serviceChecks } from "../../src/checks/service.ts";
import { pendingMigrations } from "../../src/probes/django.ts";
import { argvOptions, bindPort, gunicornSettings, isLocalAddress, settingsFromArgv } from "../../src/probes/gunicorn.ts";
import { forgetServiceFacts, gunicornArgv, parseFacts, serviceFacts, startOptions, startServiceFactsEarly, wanted } from "../../src/probes/service-facts.ts";
import { readsOfSuites, SUITES } from "../../src/checks/define.ts";
import { catalogue, narrowTo } from "../../src/checks/index.ts";
import { checksOf } from "../../src/vitest-adapter/scope.ts";
import { healthyCommands } from "./healthy-replay.ts";
import { recorded, replayContext, replayTransport } from "./replay.ts";

// Recorded on reference hosts: the one JSON line src/probes/service-facts.py prints (after anything the app prints).
const HEALTHY = recorded("service-facts-healthy.txt");
// settings raise RuntimeError at import; a gunicorn.conf.py sets workers = "many".
const BROKEN = recorded("service-facts-broken.txt");
// settings hard-code DEBUG = True (env says False); PostgreSQL stopped; gunicorn.conf.py workers = 1, timeout = 60;
// GUNICORN_CMD_ARGS=--bind=0.0.0.0:8000 --bind=unix:/run/projectmeats/g.sock; ExecStart adds --threads 4.
const DB_DOWN = recorded("service-facts-db-down.txt");
const ENVIRON = recorded("proc-environ-healthy.txt");
// The smoke gate's start on a healthy host: Gunicorn's loader and django.setup() skipped, settings read.
const SMOKE_SCOPE = recorded("service-facts-smoke-scope.txt"); // DEBUG=False, MainPID 70 in systemctl-show-healthy.txt

beforeEach(() => forgetServiceFacts());

const checks = [...securityChecks, ...serviceChecks, ...databaseChecks];
const check = (id: string) => checks.find((c) => c.id === id) as (typeof checks)[number];

// The service's environment as serviceEnv (environment.ts, not under test here) reports a steady running process.
function withEnv(ctx: ReturnType<typeof replayContext>, environ: string) {
  const env = Object.fromEntries(
    environ
      .split("\0")
      .filter((kv) => kv.includes("="))
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );
  void ctx.once("env:service", async () => ({ source: "the running process (PID 70)", env, steady: true }));
  return ctx;
}

function host(python: { stdout?: string; stderr?: string; exitCode?: number } | Error, environ = ENVIRON, tcp = "  sl  local_address\n") {
  const t = replayTransport({ ...healthyCommands(), setpriv: python }, { "/proc/net/tcp": tcp });
  return { t, ctx: withEnv(replayContext(t), environ) };
}

describe("the one Python start (recorded output)", () => {
  test("is one setpriv call as the unit's user, with the service's environment, answering every question", async () => {
    const { t, ctx } = host({ stdout: HEALTHY });
    const verdicts = await Promise.all(["SEC-001", "SEC-002", "SEC-003", "SEC-010", "DB-002", "SVC-008", "SEC-007"].map((id) => check(id).run(ctx)));
    expect(verdicts.map((v) => v.pass)).toEqual([true, true, true, true, true, true, true]);
    const py = t.calls.filter((c) => c[0] === "setpriv");
    expect(py).toHaveLength(1);
    expect(py[0]?.slice(0, 7)).toEqual([
      "setpriv",
      "--reuid=projectmeats",
      "--regid=www-data",
      "--init-groups",
      "--",
      "/opt/projectmeats/venv/bin/python",
      "-",
    ]);
    expect(JSON.parse(py[0]?.[7] ?? "{}").gunicornArgv.slice(0, 3)).toEqual(["/opt/projectmeats/venv/bin/gunicorn", "--bind", "127.0.0.1:8000"]);
    expect(verdicts[0]?.observed).toBe(
      "DEBUG=False in Django settings apps.settings.production (as projectmeats, environment of the running process (PID 70))",
    );
    expect(verdicts[1]?.observed).toMatch(/^SECRET_KEY: 64 characters, 41 distinct \(Django settings/);
    expect(verdicts[3]?.observed).toBe("issues: security.W004, security.W008, security.W012, security.W016; none at ERROR or above");
    expect(verdicts[5]?.observed).toMatch(/^timeout=120 \(set\), graceful_timeout=30 \(set\); read by gunicorn 20\.1\.0's config loader/);
    expect(verdicts[6]?.observed).toMatch(/^Gunicorn binds 127\.0\.0\.1:8000 .*the unit listens on no TCP port of 8000$/);
  });

  test("parses the settings, the check and the plan; never the key", () => {
    const f = parseFacts(`some app print\n${HEALTHY}`);
    expect(f?.django).toMatchObject({
      ok: true,
      settings: {
        DEBUG: false,
        SECRET_KEY: { set: true, length: 64, placeholder: null },
        DATABASE: { ENGINE: "django.db.backends.postgresql", NAME: "projectmeats_db" },
      },
    });
    expect(f?.gunicorn).toMatchObject({ ok: true, bind: ["127.0.0.1:8000"], workers: 3, threads: 2, timeout: 120, gracefulTimeout: 30, configFile: null });
    expect(f?.django.ok && f.django.migrations?.ok && pendingMigrations(f.django.migrations.output)).toEqual([]);
    expect(pendingMigrations("[X]  auth.0001_initial\n[ ]  suppliers.0002_supplier_notes\n")).toEqual(["suppliers.0002_supplier_notes"]);
    expect(JSON.stringify(f)).not.toMatch(/"SECRET_KEY":\s*"/);
  });

  test("Django's answer wins over the environment: a hard-coded DEBUG = True fails though the env says False", async () => {
    const { ctx } = host({ stdout: DB_DOWN });
    const v = await check("SEC-001").run(ctx);
    expect(v).toMatchObject({
      pass: false,
      observed: "DEBUG=True in Django settings apps.settings.production (as projectmeats, environment of the running process (PID 70))",
    });
    await expect(check("DB-002").run(ctx)).rejects.toThrow(/^showmigrations failed: django\.db\.utils\.OperationalError: connection to server at "localhost"/);
  });

  test("Django cannot start: SEC-001/002/003 judge the environment and say so; unset DEBUG is an error; SEC-010 and DB-002 error", async () => {
    const { ctx } = host({ stdout: BROKEN });
    const v = await check("SEC-001").run(ctx);
    expect(v).toMatchObject({
      pass: true,
      observed: "DEBUG=False (environment variable in the running process (PID 70); Django could not start: RuntimeError: bad deploy: settings cannot load)",
    });
    expect((await check("SEC-003").run(ctx)).observed).toMatch(/^ALLOWED_HOSTS=localhost,127\.0\.0\.1.*\(environment variable in the running process/);
    await expect(check("SEC-010").run(ctx)).rejects.toThrow(
      "check --deploy could not run: Django could not start: RuntimeError: bad deploy: settings cannot load",
    );
    await expect(check("DB-002").run(ctx)).rejects.toThrow(/Django could not start: RuntimeError/);
    const unset = host({ stdout: BROKEN }, ENVIRON.replace("DEBUG=False\0", ""));
    await expect(check("SEC-001").run(unset.ctx)).rejects.toThrow(
      /^could not tell: Django could not start: RuntimeError: bad deploy: settings cannot load; and DEBUG is not set in the running process \(PID 70\)$/,
    );
    const placeholder = host({ stdout: BROKEN }, ENVIRON.replace(/SECRET_KEY=[^\0]*/, "SECRET_KEY=django-insecure-dev-key-change-in-production"));
    expect((await check("SEC-002").run(placeholder.ctx)).observed).toMatch(
      /^SECRET_KEY contains the placeholder text "django-insecure-" \(environment variable in/,
    );
  });

  test("Python cannot run at all: the same fallbacks, and Gunicorn is read from ExecStart", async () => {
    const { ctx } = host({ exitCode: 127, stderr: "setpriv: failed to execute /opt/projectmeats/venv/bin/python: No such file or directory\n" });
    const f = await serviceFacts(ctx);
    expect(f).toMatchObject({ ran: false, error: expect.stringContaining("exited 127 without an answer: setpriv: failed to execute") });
    expect((await check("SEC-001").run(ctx)).pass).toBe(true);
    const g = await gunicornSettings(ctx);
    expect(g).toMatchObject({ fromLoader: false, bind: ["127.0.0.1:8000"], workers: 3, threads: 2, timeout: 120, gracefulTimeout: 30 });
    expect(g.source).toMatch(/^the ExecStart command line and GUNICORN_CMD_ARGS \(gunicorn's config loader could not run: .*; a config file is not read\)$/);
  });
});

describe("Gunicorn's effective settings", () => {
  test("from its loader: config file, GUNICORN_CMD_ARGS and command line; every bind judged, defaults not counted as set", async () => {
    const { ctx } = host({ stdout: DB_DOWN });
    const g = await gunicornSettings(ctx);
    expect(g).toMatchObject({
      fromLoader: true,
      bind: ["0.0.0.0:8000", "unix:/run/projectmeats/g.sock"],
      workers: 1,
      threads: 4,
      timeout: 60,
      gracefulTimeout: 30,
    });
    expect(g.source).toBe(
      "gunicorn 20.1.0's config loader (as projectmeats, environment of the running process (PID 70), config file /opt/projectmeats/backend/gunicorn.conf.py)",
    );
    expect((await check("SVC-008").run(ctx)).observed).toMatch(/^timeout=60 \(set\), graceful_timeout=30 \(gunicorn's default\); read by/);
    expect((await check("SVC-008").run(ctx)).pass).toBe(false);
    expect((await check("SEC-007").run(ctx)).observed).toMatch(/^Gunicorn binds 0\.0\.0\.0:8000: reachable from other hosts/);
  });

  test("a broken config file: the loader's own error, then ExecStart", async () => {
    const { ctx } = host({ stdout: BROKEN });
    const g = await gunicornSettings(ctx);
    expect(g.source).toContain("gunicorn's config loader could not run: Error: invalid literal for int() with base 0: 'many'");
    expect(g.workers).toBe(3);
  });

  test("fallback parse: GUNICORN_CMD_ARGS under the command line, every --bind, -w4, PORT and WEB_CONCURRENCY", () => {
    expect(argvOptions(["-w4", "--bind=127.0.0.1:8000", "-b", "unix:/run/x.sock", "--timeout", "60"])).toEqual({
      workers: ["4"],
      bind: ["127.0.0.1:8000", "unix:/run/x.sock"],
      timeout: ["60"],
    });
    const s = settingsFromArgv(["gunicorn", "--workers", "5", "app:app"], { GUNICORN_CMD_ARGS: "--bind 0.0.0.0:8000 --workers 2 --graceful-timeout 10" });
    expect(s).toEqual({ bind: ["0.0.0.0:8000"], workers: 5, threads: 1, timeout: 30, gracefulTimeout: 10, explicit: ["bind", "graceful_timeout", "workers"] });
    expect(settingsFromArgv(["gunicorn", "app:app"], { PORT: "9000", WEB_CONCURRENCY: "4" })).toMatchObject({
      bind: ["0.0.0.0:9000"],
      workers: 4,
      explicit: [],
    });
    expect(() => settingsFromArgv(["gunicorn", "--workers", "auto", "x:y"], {})).toThrow(/cannot read Gunicorn's worker count/);
    expect(gunicornArgv(["/usr/bin/python3", "-m", "gunicorn", "--bind", "x"])).toEqual(["gunicorn", "--bind", "x"]);
    expect(gunicornArgv(["/usr/bin/uwsgi", "--ini", "x"])).toBeUndefined();
  });

  test("unix sockets and loopback are local; a unix bind has no TCP port to scan", () => {
    for (const a of ["unix:/run/projectmeats/g.sock", "127.0.0.1:8000", "localhost:8000", "[::1]:8000", "[0:0:0:0:0:0:0:1]", "tcp://127.0.0.1:8000"])
      expect(isLocalAddress(a)).toBe(true);
    for (const a of ["0.0.0.0:8000", "[::]:8000", "10.0.0.5:8000", "[0:0:0:0:0:0:0:0]"]) expect(isLocalAddress(a)).toBe(false);
    expect(bindPort("unix:/run/x.sock")).toBeUndefined();
    expect(bindPort("[::1]:8001")).toBe(8001);
  });

  test("SEC-007: a listener on the Gunicorn port whose owner cannot be read is an error, not dropped", async () => {
    const tcp =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 4242 1 0000000000000000 100 0 0 10 0\n";
    const { ctx } = host({ stdout: HEALTHY }, ENVIRON, tcp);
    await expect(check("SEC-007").run(ctx)).rejects.toThrow("cannot tell which process holds 0.0.0.0:8000");
  });
});

describe("SVC-015 with a unix-socket Gunicorn", () => {
  test("nothing on the TCP port and only unix binds: the socket's holder is judged (recorded /proc/net/unix)", async () => {
    const facts = HEALTHY.replace('"bind": ["127.0.0.1:8000"]', '"bind": ["unix:/run/projectmeats/gunicorn.sock"]');
    const t = replayTransport(
      { ...healthyCommands(), setpriv: { stdout: facts } },
      { "/proc/net/tcp": "  sl  local_address\n", "/proc/net/unix": recorded("proc-net-unix-gunicorn.txt"), "/proc/70/comm": "gunicorn\n" },
    );
    const links: Record<string, string> = { "/proc/70/fd/5": "socket:[176535]" };
    const ctx = withEnv(
      replayContext({ ...t, readDir: async (d: string) => (d === "/proc/70/fd" ? ["5"] : []), readLink: async (l: string) => links[l] }),
      ENVIRON,
    );
    expect(await check("SVC-015").run(ctx)).toMatchObject({
      pass: true,
      observed: "unix:/run/projectmeats/gunicorn.sock pid 70 (gunicorn) (Gunicorn's bind)",
    });
    expect((await check("SEC-007").run(ctx)).pass).toBe(true);
    const stray = withEnv(
      replayContext({
        ...t,
        readDir: async (d: string) => (d === "/proc" ? ["70", "4242"] : d === "/proc/4242/fd" ? ["3"] : []),
        readLink: async (l: string) => (l === "/proc/4242/fd/3" ? "socket:[176535]" : undefined),
      }),
      ENVIRON,
    );
    expect((await check("SVC-015").run(stray)).observed).toMatch(/^unix:\/run\/projectmeats\/gunicorn\.sock pid 4242 .*; the unit's PIDs are /);
  });
});

describe("what a run asks the start for", () => {
  const optionsOf = (call: string[]) => JSON.parse(call.at(-1) as string) as Record<string, unknown>;
  test("the smoke gate asks for settings only; a check that reads Gunicorn's config gets a second start for it", async () => {
    const { t, ctx } = host({ stdout: SMOKE_SCOPE });
    narrowTo(ctx, new Set(["SEC-001", "SEC-002", "SVC-001"]));
    expect(await check("SEC-001").run(ctx)).toMatchObject({ pass: true });
    const starts = () => t.calls.filter((c) => c[0] === "setpriv");
    expect(starts().map(optionsOf)).toEqual([expect.objectContaining({ gunicorn: false, check: false, migrations: false })]);
    // A reader of Gunicorn's config the run did not expect (SVC-015 on a unix-socket host): one more start, no Django.
    await gunicornSettings(ctx).catch(() => undefined);
    expect(starts().map(optionsOf)).toEqual([expect.objectContaining({ gunicorn: false }), expect.objectContaining({ gunicorn: true, django: false })]);
  });

  test("the early start (before the checks load) asks each suite for at least what its checks read", () => {
    for (const suite of ["smoke", ...SUITES]) {
      const { ctx } = host({ stdout: HEALTHY });
      narrowTo(ctx, new Set(checksOf(suite).map((c) => c.id)));
      const need = wanted(ctx);
      const early = startOptions(readsOfSuites([suite]));
      expect({
        suite,
        gunicorn: early.gunicorn || !need.gunicorn,
        check: early.check || !need.check,
        migrations: early.migrations || !need.migrations,
      }).toEqual({
        suite,
        gunicorn: true,
        check: true,
        migrations: true,
      });
    }
    // The gate: Gunicorn's config for FS-007's log files, never `check --deploy` or migrations.
    expect(startOptions(readsOfSuites(["smoke"]))).toEqual({ gunicorn: true, check: false, migrations: false });
  });

  test("an early start that asked too little is followed by one that asks enough; one that asked enough is reused", async () => {
    const { t, ctx } = host({ stdout: HEALTHY });
    startServiceFactsEarly(ctx, { gunicorn: false, check: false, migrations: false });
    narrowTo(ctx, new Set(["SEC-010"]));
    await serviceFacts(ctx);
    await serviceFacts(ctx);
    const starts = t.calls.filter((c) => c[0] === "setpriv").map((c) => JSON.parse(c.at(-1) as string));
    expect(starts).toEqual([expect.objectContaining({ check: false }), expect.objectContaining({ check: true })]);
  });

  test("every check declares what it reads from the start: run alone, it needs one start and finds nothing unasked", async () => {
    // The start answers only what it was asked (as src/probes/service-facts.py does): the healthy recording, cut down.
    const [marker, json] = [HEALTHY.slice(0, HEALTHY.indexOf("{")), HEALTHY.slice(HEALTHY.indexOf("{"))];
    const answer = (o: Record<string, unknown>) => {
      const f = JSON.parse(json);
      if (!o.gunicorn) f.gunicorn = { ok: false, notAsked: true, version: f.gunicorn.version, error: "gunicorn's config was not asked for" };
      if (!o.check) f.django.check = null;
      if (!o.migrations) f.django.migrations = null;
      return `${marker}${JSON.stringify(f)}\n`;
    };
    const unasked: string[] = [];
    for (const c of catalogue) {
      forgetServiceFacts();
      const { t, ctx } = host({ stdout: HEALTHY });
      const run = t.run.bind(t);
      let starts = 0;
      t.run = async (argv, opts) => {
        if (argv[0] !== "setpriv") return run(argv, opts);
        starts++;
        return { exitCode: 0, stdout: answer(optionsOf(argv)), stderr: "", durationMs: 1 };
      };
      narrowTo(ctx, new Set([c.id]));
      const seen = await c.run(ctx).then(
        (v) => v.observed,
        (e: Error) => e.message,
      );
      if (starts > 1 || /not asked/.test(seen)) unasked.push(`${c.id}: ${starts} starts; ${seen.slice(0, 120)}`);
    }
    expect(unasked).toEqual([]);
  });

  test("a full run asks for everything in one start", async () => {
    const { t, ctx } = host({ stdout: HEALTHY });
    await Promise.all([serviceFacts(ctx), gunicornSettings(ctx)]);
    const starts = t.calls.filter((c) => c[0] === "setpriv").map(optionsOf);
    expect(starts).toEqual([expect.objectContaining({ gunicorn: true, check: true, migrations: true })]);
  });
});

describe("one start per run", () => {
  test("a second probe context (the next spec file) reuses a complete answer; a failed start is asked again", async () => {
    const first = host({ stdout: HEALTHY });
    await serviceFacts(first.ctx);
    const second = host({ stdout: BROKEN });
    expect((await serviceFacts(second.ctx)).ran && "settings" in ((await serviceFacts(second.ctx)) as { django: object }).django).toBe(true);
    expect(second.t.calls.filter((c) => c[0] === "setpriv")).toHaveLength(0);
    forgetServiceFacts();
    const dead = host({ exitCode: 137, stderr: "" });
    expect((await serviceFacts(dead.ctx)).ran).toBe(false);
    const again = host({ stdout: HEALTHY });
    expect((await serviceFacts(again.ctx)).ran).toBe(true);
    expect(again.t.calls.filter((c) => c[0] === "setpriv")).toHaveLength(1);
  });
});

describe("SEC-006", () => {
  test("a git HEAD is a ref or a detached commit id; an HTML fallback page is not", () => {
    expect(GIT_HEAD.test("ref: refs/heads/main\n")).toBe(true);
    expect(GIT_HEAD.test("3f786850e387550fdab836ed7e6dc881de23001b\n")).toBe(true);
    expect(GIT_HEAD.test('<!doctype html><title>ProjectMeats</title><div id="root"></div>\n')).toBe(false);
  });
});
