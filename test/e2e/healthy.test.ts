import { readdirSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { catalogue } from "../../src/checks/index.ts";
import { REPO_ROOT } from "../../fixtures/host/paths.ts";
import { describeE2E } from "./e2e.ts";
import { hostCli, idsWith, validateInside } from "./hosts.ts";

const NAME = `e2e-healthy-${process.pid}`;
const inside = (cmd: string[]) => hostCli(["exec", NAME, "--", ...cmd]);
const curl = (url: string, ...extra: string[]) => inside(["curl", "-s", "-H", "Host: localhost", "-w", "\n%{http_code}", ...extra, url]);
const ids = (list: readonly { id: string }[]) => list.map((c) => c.id).sort();

describeE2E("a healthy reference host", () => {
  beforeAll(async () => {
    const r = await hostCli(["up", "--name", NAME]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ name: NAME, pid: expect.any(Number) });
  });
  afterAll(async () => {
    expect((await hostCli(["down", NAME])).exitCode).toBe(0);
    const list = await hostCli(["list"]);
    expect(list.stdout).not.toContain(NAME);
  });

  test("projectmeats, postgresql and nginx are active", async () => {
    const r = await inside(["systemctl", "is-active", "projectmeats", "postgresql", "nginx"]);
    expect(r.stdout.split("\n")).toEqual(["active", "active", "active"]);
    expect(r.exitCode).toBe(0);
  });

  test.each([
    ["Gunicorn /health/", "http://127.0.0.1:8000/health/", "200", '"status":"healthy"'],
    ["nginx /health/", "http://127.0.0.1/health/", "200", '"status":"healthy"'],
    ["nginx /health", "http://127.0.0.1/health", "200", '"status":"healthy"'],
    ["Gunicorn /api/health", "http://127.0.0.1:8000/api/health", "200", '"status":"healthy"'],
    ["/admin/login/", "http://127.0.0.1/admin/login/", "200", "Django administration"],
    ["an admin CSS file through nginx", "http://127.0.0.1/django_static/admin/css/base.css", "200", "{"],
    ["/api/v1/suppliers/ without credentials", "http://127.0.0.1/api/v1/suppliers/", "403", "Authentication credentials were not provided"],
  ])("%s", async (_label, url, status, body) => {
    const r = await curl(url);
    const lines = r.stdout.split("\n");
    expect(lines.at(-1)).toBe(status);
    expect(lines.slice(0, -1).join("\n")).toContain(body);
  });

  test("HEAD /health/ is 200 through Gunicorn and nginx", async () => {
    for (const url of ["http://127.0.0.1:8000/health/", "http://127.0.0.1/health/"]) {
      const r = await curl(url, "-I");
      expect(r.stdout.split("\n").at(-1)).toBe("200");
    }
  });

  test("exec passes the command's exit code through", async () => {
    expect((await inside(["sh", "-c", "exit 7"])).exitCode).toBe(7);
  });

  test("the full validator passes: zero failures, zero errors, every check ran", async () => {
    const v = await validateInside(NAME, [], "healthy-full");
    expect(idsWith(v.results, "fail"), v.output).toEqual([]);
    expect(idsWith(v.results, "error"), v.output).toEqual([]);
    // The certificate check has no TLS to judge on this http host (the tls flavour proves it passes there).
    expect(idsWith(v.results, "pass")).toEqual(ids(catalogue).filter((id) => id !== "HTTP-012"));
    expect(v.results.find((r) => r.id === "HTTP-012")).toMatchObject({ status: "skip", observed: expect.stringContaining("nginxUrl is http") });
    expect(v.exitCode).toBe(0);
  });

  test("specs/smoke runs exactly the smoke checks of every suite", async () => {
    const v = await validateInside(NAME, ["specs/smoke"], "healthy-smoke");
    expect(v.results.map((r) => r.id).sort()).toEqual(ids(catalogue.filter((c) => c.smoke)));
    expect(idsWith(v.results, "pass")).toEqual(ids(catalogue.filter((c) => c.smoke)));
    expect(v.exitCode).toBe(0);
  });

  test("specs/database runs that whole suite, smoke checks included", async () => {
    const v = await validateInside(NAME, ["specs/database"], "healthy-database");
    expect(v.results.map((r) => r.id).sort()).toEqual(ids(catalogue.filter((c) => c.suite === "database")));
  });

  test("no secret from the env file appears in any report", async () => {
    const env = (await inside(["cat", "/etc/projectmeats/projectmeats.env"])).stdout;
    const secrets = [env.match(/^SECRET_KEY='?([^'\n]+)/m)?.[1], env.match(/:\/\/[^:]+:([^@]+)@/)?.[1]].filter((s): s is string => Boolean(s));
    expect(secrets).toHaveLength(2);
    const dir = path.join(REPO_ROOT, "reports/e2e");
    const files = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    expect(files.length).toBeGreaterThan(3);
    for (const f of files) {
      const text = readFileSync(path.join(f.parentPath, f.name), "utf8");
      for (const s of secrets) expect(text.includes(s), `${f.name} leaks a secret`).toBe(false);
    }
  });

  test("a broken config stops the run before any check, with one message naming the field", async () => {
    const dir = path.join(REPO_ROOT, "reports/e2e");
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "bad-config.json"), JSON.stringify({ gunicornUrl: "ftp://x", thresholds: { p95Ms: -1 } }));
    const r = await hostCli(["run", NAME, "--", "specs/smoke"], {
      env: { DEPLOY_CONFIG: path.join(dir, "bad-config.json"), DDV_REPORTS_DIR: "reports/e2e/bad-config" },
    });
    expect(r.exitCode).toBe(78);
    expect(r.stderr).toContain("at gunicornUrl");
    expect(r.stderr).toContain("at thresholds.p95Ms");
    expect(r.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  });

  test("a unit this host does not have is said once, before the checks, with what to do", async () => {
    const r = await hostCli(["run", NAME, "--", "specs/smoke"], {
      env: { DEPLOY_SERVICE: "shop", DDV_REPORTS_DIR: "reports/e2e/no-such-unit", NO_COLOR: "1" },
    });
    expect(r.exitCode).toBe(1);
    expect(r.stderr.split("\n").filter((l) => l.startsWith("ddv: "))).toEqual([
      "ddv: this host has no unit shop.service (LoadState=not-found): set DEPLOY_SERVICE, or write deploy.config.json with the service's unit name, project and paths. " +
        "`npm run discover` (as root, on this host) finds the Django service and writes it for you.",
    ]);
    // The healthy run said nothing of the kind.
    const ok = await hostCli(["run", NAME, "--", "specs/smoke"], { env: { DDV_REPORTS_DIR: "reports/e2e/unit-here", NO_COLOR: "1" } });
    expect(ok.stderr).not.toMatch(/^ddv: /m);
  });

  // Last: it stops the service.
  test("-t cannot bend the gate: narrowed, it is green on a healthy host and red with the service stopped", async () => {
    const narrowed = await validateInside(NAME, ["specs/smoke", "-t", "SEC-001"], "gate-narrowed-healthy");
    expect(narrowed.exitCode, narrowed.output).toBe(0);
    expect((await inside(["systemctl", "stop", "projectmeats"])).exitCode).toBe(0);
    // A pattern that matches no check name judges nothing: not green.
    const none = await hostCli(["run", NAME, "--", "specs/smoke", "-t", "smoke"], { env: { DDV_REPORTS_DIR: "reports/e2e/gate-t-none", NO_COLOR: "1" } });
    expect(none.exitCode, none.stdout + none.stderr).toBe(1);
    expect(none.stderr).toContain(`none of the ${catalogue.filter((c) => c.smoke).length} checks was judged in this run`);
    // A pattern that leaves the stopped service's checks out: they are judged anyway, and red.
    const out = await hostCli(["run", NAME, "--", "specs/smoke", "-t", "SEC-001"], { env: { DDV_REPORTS_DIR: "reports/e2e/gate-t-left-out", NO_COLOR: "1" } });
    expect(out.exitCode, out.stdout + out.stderr).toBe(1);
    expect(`${out.stdout}${out.stderr}`).toMatch(/the smoke gate is red: \d+ check\(s\) left out by -t are red:\s+SVC-001 FAIL: ActiveState=inactive/);
  });

  test("up refuses a name that is in use", async () => {
    const r = await hostCli(["up", "--name", NAME]);
    expect(r.exitCode).toBe(73);
    expect(r.stderr).toMatch(/already running/);
  });
});
