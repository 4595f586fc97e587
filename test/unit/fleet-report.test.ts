import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, expect, test } from "vitest";
import { REPO_ROOT } from "../../fixtures/host/paths.ts";
import { loadConfig } from "../../src/config/load.ts";
import { EXIT } from "../../src/remediation/errors.ts";
import { remediateFleet } from "../../src/remediation/fleet.ts";
import { readFleetReport, readReport } from "../../src/remediation/report.ts";
import { hostBound } from "../../src/fleet/targets.ts";
import { vitestReport, writeVitest } from "./remediation-fixtures.ts";

// A fleet run's report read per host, and the fleet's own settings: the bound, per-host config, unknown hosts.
const dir = mkdtempSync(path.join(tmpdir(), "ddv-fleet-report-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const web = (n: number) => ({ hostname: `web${n}`, machineId: String(n).repeat(32) });

const fleetReport = () =>
  writeVitest(
    dir,
    "fleet",
    vitestReport([
      { id: "SVC-001", status: "pass", target: "web1", host: web(1) },
      { id: "SEC-001", status: "fail", target: "web1", host: web(1) },
      { id: "SVC-001", status: "fail", target: "web2", host: web(2) },
      { id: "HTTP-001", status: "skip", blockedBy: "SVC-001", target: "web2", host: web(2) },
    ]),
  );

test("a fleet report reads as one report per host, in the run's order, each with its own identity", () => {
  const reports = readFleetReport(fleetReport());
  expect(reports.map((r) => [r.target, r.hostname, r.machineId, r.checks.map((c) => `${c.id}:${c.status}`)])).toEqual([
    ["web1", "web1", "1".repeat(32), ["SVC-001:pass", "SEC-001:fail"]],
    ["web2", "web2", "2".repeat(32), ["SVC-001:fail", "HTTP-001:skip"]],
  ]);
});

test("a fleet report is refused where one host's is expected, and the other way round, with what to do", () => {
  expect(() => readReport(fleetReport())).toThrow(/is a fleet report \(web1, web2\): remediate it with the same DEPLOY_HOSTS or DEPLOY_INVENTORY/);
  const single = writeVitest(dir, "single", vitestReport([{ id: "SVC-001", status: "fail" }]));
  expect(() => readFleetReport(single)).toThrow(/is not from a fleet run/);
});

test("a report naming a host the current host list does not know is refused before anything connects", async () => {
  const said: string[] = [];
  const run = remediateFleet({
    report: fleetReport(),
    targets: [{ name: "web1", ssh: { host: "web1" } }],
    parallel: 1,
    say: (l) => said.push(l),
    confirm: async () => false,
    dryRun: true,
    forceStale: false,
  });
  await expect(run).rejects.toMatchObject({ exitCode: EXIT.badReport, message: expect.stringMatching(/names host\(s\) web2 that DEPLOY_HOSTS/) });
  expect(said).toEqual([]);
});

test("per-host config from the inventory overrides the file, the environment overrides both; a bad one names the host", () => {
  const env = { DEPLOY_CONFIG: path.join(dir, "none.json") };
  expect(() => loadConfig(env, dir)).toThrow(/does not exist/);
  const c = loadConfig({}, dir, { name: "web2", config: { service: "shop", gunicornUrl: "http://127.0.0.1:8001" } });
  expect([c.service, c.gunicornUrl]).toEqual(["shop", "http://127.0.0.1:8001"]);
  expect(loadConfig({ DEPLOY_SERVICE: "other" }, dir, { name: "web2", config: { service: "shop" } }).service).toBe("other");
  expect(() => loadConfig({}, dir, { name: "web2", config: { gunicornUrl: 8001 } })).toThrow(/with host web2's ddv_config/);
});

test("hosts checked at once: DEPLOY_PARALLEL, 8 by default; anything but a count is refused in one line", () => {
  expect(hostBound({})).toBe(8);
  expect(hostBound({ DEPLOY_PARALLEL: "3" })).toBe(3);
  expect(() => hostBound({ DEPLOY_PARALLEL: "zero" })).toThrow(/^DEPLOY_PARALLEL must be a count of hosts \(1 or more\), received "zero"$/);
  expect(() => hostBound({ DEPLOY_PARALLEL: "0" })).toThrow(/DEPLOY_PARALLEL/);
});

test("bad fleet input stops `npx vitest run` before anything connects: one line, exit 66; a host's bad ddv_config exits 78", async () => {
  const run = (env: Record<string, string>) =>
    execa("npx", ["vitest", "run", "specs/smoke"], {
      cwd: REPO_ROOT,
      reject: false,
      stdin: "ignore",
      timeout: 120_000,
      env: { ...env, DDV_REPORTS_DIR: path.join(dir, "reports"), NO_COLOR: "1" },
    });
  const limit = await run({ DEPLOY_LIMIT: "web" });
  expect(limit.exitCode, limit.stderr).toBe(66);
  expect(limit.stderr).toContain('DEPLOY_LIMIT "web" needs DEPLOY_INVENTORY');
  expect(limit.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  const parallel = await run({ DEPLOY_HOSTS: "web1", DEPLOY_PARALLEL: "lots" });
  expect(parallel.exitCode).toBe(66);
  expect(parallel.stderr).toContain('DEPLOY_PARALLEL must be a count of hosts (1 or more), received "lots"');
  const inv = path.join(dir, "bad-config.ini");
  writeFileSync(inv, `web1 ddv_config='{"gunicornUrl": 8000}'\n`);
  const config = await run({ DEPLOY_INVENTORY: inv });
  expect(config.exitCode, config.stderr).toBe(78);
  expect(config.stderr).toContain("with host web1's ddv_config");
}, 120_000);

test("no host starts after one that did not end fixed; the ones left are named", async () => {
  // test/fake/ssh answers host "unreachable" as ssh does (exit 255): the first host cannot even be asked who it is.
  const fake = path.join(import.meta.dirname, "../fake/ssh");
  const said: string[] = [];
  const targets = [
    { name: "web1", ssh: { host: "unreachable", ssh: fake } },
    { name: "web2", ssh: { host: "unreachable", ssh: fake } },
  ];
  const code = await remediateFleet({
    report: fleetReport(),
    targets,
    parallel: 1,
    say: (l) => said.push(l),
    confirm: async () => false,
    dryRun: true,
    forceStale: false,
  });
  expect(code).toBe(EXIT.partial);
  expect(said).toEqual([
    expect.stringMatching(/^\[web1\] could not remediate: ssh to unreachable failed: ssh: connect to host unreachable/),
    "stopped after web1 did not end fixed and verified; not attempted: web2",
  ]);
});
