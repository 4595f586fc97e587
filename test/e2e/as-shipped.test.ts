import { afterAll, beforeAll, expect, test } from "vitest";
import { describeE2E } from "./e2e.ts";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "../../fixtures/host/paths.ts";
import { hostCli, idsWith, readReport, siteHealthy, validateInside } from "./hosts.ts";

const NAME = `e2e-shipped-${process.pid}`.slice(0, 31);
const inside = (cmd: string[]) => hostCli(["exec", NAME, "--", ...cmd]);
const curl = (url: string, ...extra: string[]) => inside(["curl", "-s", "-H", "Host: localhost", "-w", "\n%{http_code}", ...extra, url]);

// What the full run reports on a healthy host configured as the ProjectMeats repository ships it: real
// defects of the shipped configuration, each one a fix the operator should make (not a false red).
const AS_SHIPPED_FINDINGS = [
  // Committed env templates (.env.meatscentral, .env.production.enhanced, deployment/*.template) left in the
  // deployed tree with mode 644 assign passwords and keys: anyone on the host reads the published defaults.
  "FS-006",
  // The regex location for icons and images (\.(ico|png|svg|...)$) wins over the /django_static/ alias:
  // the admin's svg/png/ico files answer 404.
  "HTTP-008",
  // /django_static/ (and /media/) set their own add_header Cache-Control, so nginx drops the server-level
  // X-Content-Type-Options and X-Frame-Options there: static files and uploads go out without nosniff.
  "SEC-004",
  // The site has no `server_tokens off`: every nginx answer says `Server: nginx/1.22.1`.
  "SEC-005",
  // The shipped unit sets only 7 sandboxing directives (no CapabilityBoundingSet=, RestrictAddressFamilies=,
  // ProtectKernelLogs=, ...): `systemd-analyze security` rates it 7.6 EXPOSED.
  "SEC-009",
  // SuccessExitStatus=0 1 2 with Restart=always: a crash with exit 1 counts as a clean exit, so failures are masked.
  "SVC-017",
  // /opt/projectmeats/.env.production, loaded last, overrides every variable of the operator's
  // /etc/projectmeats/projectmeats.env: edits to the file the docs point at have no effect.
  "SVC-019",
].sort();

// The real deployment's configuration over our stand-in app: healthy, a green gate, and exactly its findings.
describeE2E("ProjectMeats as shipped (flavour as-shipped)", () => {
  beforeAll(async () => {
    const r = await hostCli(["up", "--flavour", "as-shipped", "--name", NAME]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ name: NAME, pid: expect.any(Number) });
  });
  afterAll(async () => {
    expect((await hostCli(["down", NAME])).exitCode).toBe(0);
  });

  test("the host is configured as shipped: the repository's unit, both optional env files, --preload", async () => {
    const r = await inside(["systemctl", "show", "projectmeats", "-p", "Restart,SuccessExitStatus,EnvironmentFiles,ExecStartPre,ExecStart,ActiveState"]);
    expect(r.stdout).toContain("Restart=always");
    expect(r.stdout).toMatch(/^SuccessExitStatus=.*\b1\b.*\b2\b/m);
    expect(r.stdout).toContain("EnvironmentFiles=/etc/projectmeats/projectmeats.env (ignore_errors=yes)");
    expect(r.stdout).toContain("EnvironmentFiles=/opt/projectmeats/.env.production (ignore_errors=yes)");
    expect(r.stdout).toContain("pre_start_service.sh");
    expect(r.stdout).toContain("--preload");
    expect(r.stdout).toContain("ActiveState=active");
  });

  test("the site answers healthy JSON through Gunicorn and nginx", async () => {
    const site = await siteHealthy(NAME);
    expect(site.healthy, site.detail).toBe(true);
  });

  test.each([
    ["nginx /health is nginx's own 301 to /health/", "http://127.0.0.1/health", "301", "301 Moved Permanently"],
    ["Gunicorn /api/health", "http://127.0.0.1:8000/api/health", "200", '"status":"healthy"'],
    ["/admin/login/ through nginx", "http://127.0.0.1/admin/login/", "200", "Django administration"],
    ["the API refuses anonymous requests through nginx", "http://127.0.0.1/api/v1/suppliers/", "403", "Authentication credentials were not provided"],
  ])("%s", async (_label, url, status, body) => {
    const r = await curl(url);
    const lines = r.stdout.split("\n");
    expect(lines.at(-1)).toBe(status);
    expect(lines.slice(0, -1).join("\n")).toContain(body);
  });

  test("the smoke gate is green", async () => {
    const v = await validateInside(NAME, ["specs/smoke"], "as-shipped-smoke");
    expect(idsWith(v.results, "fail"), v.output).toEqual([]);
    expect(idsWith(v.results, "error"), v.output).toEqual([]);
    expect(v.exitCode, v.output).toBe(0);
  });

  test("the full run fails exactly the real findings of the shipped configuration, and nothing errors", async () => {
    const v = await validateInside(NAME, [], "as-shipped-full");
    const failed = v.results.filter((r) => r.status === "fail");
    expect(idsWith(v.results, "error"), v.output).toEqual([]);
    expect(idsWith(v.results, "not-run"), v.output).toEqual([]);
    expect(failed.map((r) => r.id).sort(), failed.map((r) => `${r.id}: ${r.observed}`).join("\n")).toEqual(AS_SHIPPED_FINDINGS);
    expect(v.exitCode).toBe(AS_SHIPPED_FINDINGS.length ? 1 : 0);
  });

  // The team accepts its findings for now: waivers (one of them expired) and a threshold, end to end.
  test("waived findings show as waived and the run is red only for the expired waiver; failOn=critical makes it green", async () => {
    const [expired, ...accepted] = AS_SHIPPED_FINDINGS;
    const dir = path.join(REPO_ROOT, "reports/e2e");
    mkdirSync(dir, { recursive: true });
    const waivers = [
      ...accepted.map((id) => ({ id, reason: "accepted until the hardening sprint", expires: "2999-12-31" })),
      { id: expired, reason: "was accepted until last year", expires: "2000-01-01" },
    ];
    writeFileSync(path.join(dir, "waivers.json"), JSON.stringify(waivers));
    writeFileSync(path.join(dir, "waived.config.json"), JSON.stringify({ waiversFile: "waivers.json" }));
    writeFileSync(path.join(dir, "fail-on.config.json"), JSON.stringify({ failOn: "critical" }));
    const run = (config: string, label: string) =>
      hostCli(["run", NAME, "--"], { env: { DEPLOY_CONFIG: path.join(dir, config), DDV_REPORTS_DIR: `reports/e2e/${label}`, NO_COLOR: "1" } });

    const w = await run("waived.config.json", "as-shipped-waived");
    const wOut = `${w.stdout}\n${w.stderr}`;
    const rows = readReport(path.join(dir, "as-shipped-waived/vitest-report.json"));
    expect(idsWith(rows, "waived"), wOut).toEqual([...accepted].sort());
    expect(idsWith(rows, "fail")).toEqual([expired]);
    expect(wOut).toContain(`the waiver for ${expired} expired on 2000-01-01`);
    for (const id of accepted) expect(wOut).toContain(`${id} WAIVED until 2999-12-31: accepted until the hardening sprint`);
    expect(w.exitCode).toBe(1);
    // Every waiver in force is said before any check.
    for (const id of accepted) expect(wOut).toContain(`ddv: waiver in force: ${id} until 2999-12-31: accepted until the hardening sprint`);
    // A critical check waived on every host, for years: refused before any check runs.
    writeFileSync(
      path.join(dir, "critical-waiver.config.json"),
      JSON.stringify({ waivers: [{ id: "SVC-001", reason: "the site is down on purpose", expires: "2999-12-31" }] }),
    );
    const c = await run("critical-waiver.config.json", "as-shipped-critical-waiver");
    expect(c.exitCode, c.stderr).toBe(78);
    expect(c.stderr).toMatch(/waivers of critical checks must name a host and expire within 7 days: SVC-001 names no host and expires 2999-12-31/);

    const t = await run("fail-on.config.json", "as-shipped-fail-on");
    const tOut = `${t.stdout}\n${t.stderr}`;
    const below = readReport(path.join(dir, "as-shipped-fail-on/vitest-report.json"));
    expect(idsWith(below, "fail"), tOut).toEqual(AS_SHIPPED_FINDINGS);
    for (const id of AS_SHIPPED_FINDINGS) expect(tOut).toMatch(new RegExp(`${id} \\w+ finding, below failOn=critical: reported, not red`));
    expect(t.exitCode, tOut).toBe(0);
  });
});
