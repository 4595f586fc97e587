import { expect, test } from "vitest";
import { loadFlavour } from "../../fixtures/flavours/flavour.ts";
import { listScenarios, loadScenario } from "../../fixtures/host/scenarios.ts";
import { catalogue } from "../../src/checks/index.ts";
import { describeE2E } from "./e2e.ts";
import { hostCli, idsWith, siteHealthy, validateInside } from "./hosts.ts";
import { appDatabase, changes, fixable, latestManifest, remediateInside, rowChanges, rowCounts, snapshot, withinDeclared } from "./remediation-helpers.ts";

const scenarios = await Promise.all((await listScenarios()).map(loadScenario));
// Every scenario on the reference host, on the as-shipped flavour those that say what must fail there, and on the
// other flavours (socket deployment, ASGI, remote database, tutorial) those that name every ID that must fail there.
const cases: Array<readonly [string, string]> = [
  ...scenarios.filter((s) => !s.onlyOn).map((s) => ["reference", s.name] as const),
  // A fault that needs one flavour's shape (a certificate) runs there only.
  ...scenarios.flatMap((s) => (s.onlyOn ? [[s.onlyOn, s.name] as const] : [])),
  ...scenarios.filter((s) => s.asShipped).map((s) => ["as-shipped", s.name] as const),
  ...scenarios.flatMap((s) => Object.entries(s.flavours ?? {}).flatMap(([f, ids]) => (Array.isArray(ids) ? [[f, s.name] as const] : []))),
];
// Host name prefixes: reference hosts keep the scenario's name.
const PREFIX: Record<string, string> = { reference: "", "as-shipped": "s-", "pm-socket": "ps-", asgi: "ag-", "remote-db": "rd-", tutorial: "tu-", tls: "tl-" };
// Each host is validated as its operator runs the validator (the tutorial's config file, the tls flavour's private CA).
const FLAVOUR_ENV = Object.fromEntries(await Promise.all([...new Set(cases.map(([f]) => f))].map(async (f) => [f, (await loadFlavour(f)).runWith] as const)));
const expectedOn = (s: (typeof scenarios)[number], flavour: string): string[] =>
  (flavour === "reference" || flavour === s.onlyOn ? s.expectFail : flavour === "as-shipped" ? s.asShipped : (s.flavours?.[flavour] as string[] | undefined)) ??
  [];
const critical = new Set(catalogue.filter((c) => c.severity === "critical").map((c) => c.id));
// failOn's default (high): a finding of these severities turns the full run red; medium and low are advice.
const turnsRed = new Set(catalogue.filter((c) => c.severity === "critical" || c.severity === "high").map((c) => c.id));
// Reference scenarios whose failing IDs all have a registered fix: the same host is then remediated and proved.
const remediable = new Set(scenarios.filter((s) => fixable(s.expectFail)).map((s) => s.name));
const WATCHED = ["/etc", "/opt/projectmeats"];
// The performance suite (a bounded load test) runs where a scenario expects a PERF result; every other scenario
// runs the other five suites (the healthy hosts and the PERF scenarios keep the performance checks proven).
const NO_LOAD = ["specs/service", "specs/http", "specs/database", "specs/fs-permissions", "specs/security"];
const suitesFor = (expectFail: string[]) => (expectFail.some((id) => id.startsWith("PERF-")) ? [] : NO_LOAD);

// Each scenario on a fresh copy-on-write host: exactly its root-cause IDs fail, nothing errors; and the smoke
// gate is red exactly when a critical check fails or the site does not answer healthy.
describeE2E("fault scenarios", () => {
  // Two validator runs on a loaded machine: well over the default test timeout.
  test.concurrent.each(cases)("%s: %s", { timeout: 900_000 }, async (flavour, name) => {
    const scenario = scenarios.find((s) => s.name === name) as (typeof scenarios)[number];
    const expectFail = expectedOn(scenario, flavour);
    const host = `e2e-${PREFIX[flavour] ?? `${flavour}-`}${name}`.slice(0, 31).replace(/-+$/, "");
    const up = await hostCli(["up", "--flavour", flavour, "--scenario", name, "--name", host]);
    try {
      expect(up.exitCode, up.stderr).toBe(0);
      const v = await validateInside(host, suitesFor(expectFail), `scenario-${flavour}-${name}`, FLAVOUR_ENV[flavour]);
      const failed = v.results.filter((r) => r.status === "fail");
      expect(idsWith(v.results, "not-run"), v.output).toEqual([]);
      expect(idsWith(v.results, "error"), v.output).toEqual([]);
      const failedIds = failed.map((r) => r.id).sort();
      // An unexpected red on a fixture is only worth something with the host's own account of it.
      const journal = failedIds.join() === [...expectFail].sort().join() ? "" : await unitJournal(host);
      expect(failedIds, `${failed.map((r) => `${r.id}: ${r.observed}`).join("\n")}${journal}`).toEqual([...expectFail].sort());
      expect(v.exitCode).toBe(expectFail.some((id) => turnsRed.has(id)) ? 1 : 0);
      // Every red failure explains itself: ID, expected, observed, what to do (advice shows as a one-line skip).
      for (const f of failed.filter((x) => turnsRed.has(x.id)))
        expect(f.message).toMatch(new RegExp(`${f.id} FAIL: [\\s\\S]*expected: [\\s\\S]*observed: [\\s\\S]*do: `));

      // The gate as its own run, and remediation, on the reference and as-shipped hosts (the site probe below speaks TCP);
      // the other flavours prove what the full run finds there.
      if (flavour !== "reference" && flavour !== "as-shipped") return;
      const gate = await validateInside(host, ["specs/smoke"], `scenario-${flavour}-${name}-smoke`);
      const site = await siteHealthy(host);
      const mustBeRed = failed.some((r) => critical.has(r.id)) || !site.healthy;
      const gateFailed = gate.results.filter((r) => r.status === "fail" || r.status === "error");
      const why = `${site.detail}\n${gate.results.map((r) => `${r.id} ${r.status}: ${r.observed}`).join("\n")}`;
      expect(gate.exitCode, why).toBe(mustBeRed ? 1 : 0);
      expect(gateFailed.length > 0, why).toBe(mustBeRed);
      // In the gate, "blocked by X" only when X is red in the same gate.
      const red = new Set(gateFailed.map((r) => r.id));
      for (const r of gate.results.filter((r) => r.blockedBy)) expect(red.has(r.blockedBy as string), `${r.id} blocked by ${r.blockedBy}\n${why}`).toBe(true);

      if (flavour === "reference" && remediable.has(name)) await proveRemediation(host, name, v.dir, scenario);
    } finally {
      // A failed up removed its host itself: asserting on down then would hide up's own message.
      const down = await hostCli(["down", host]);
      if (up.exitCode === 0) expect(down.exitCode).toBe(0);
    }
  });
});

// validate (done) → remediate --from-report --yes → validate: all green, no row lost, no file changed outside
// what the fixes declared (checksums, owners and modes of /etc and /opt/projectmeats).
// A scenario marked notRemediable must exit 1 and leave exactly its own IDs red (nothing fixed half, nothing broken).
async function proveRemediation(host: string, name: string, reportDir: string, scenario: { notRemediable?: string; expectFail: string[] }) {
  const db = await appDatabase(host);
  const [files, rows] = await Promise.all([snapshot(host, WATCHED), rowCounts(host, db)]);
  const r = await remediateInside(host, ["--from-report", reportDir, "--yes"]);
  const out = `${r.stdout}\n${r.stderr}`;
  expect(r.exitCode, out).toBe(scenario.notRemediable ? 1 : 0);
  const again = await validateInside(host, suitesFor(scenario.expectFail), `scenario-reference-${name}-remediated`);
  let red = again.results.filter((x) => x.status === "fail" || x.status === "error");
  // PERF-001 measures latency under a short load while another host loads the same two cores: when it is the only
  // red check, its suite is judged once more (a known load sensitivity, tracked for issue 10), never waived.
  if (red.length && red.every((x) => x.id.startsWith("PERF-"))) {
    const perf = await validateInside(host, ["specs/performance"], `scenario-reference-${name}-remediated-perf`);
    red = perf.results.filter((x) => x.status === "fail" || x.status === "error");
  }
  const left = scenario.notRemediable ? [...scenario.expectFail].sort() : [];
  expect(red.map((x) => x.id).sort(), `${out}\n${red.map((x) => `${x.id} ${x.status}: ${x.observed}`).join("\n")}`).toEqual(left);
  expect(idsWith(again.results, "not-run")).toEqual([]);
  const manifest = await latestManifest(host);
  const declared = manifest?.declared ?? {};
  const outside = changes(files, await snapshot(host, WATCHED)).filter((c) => !withinDeclared(c.path, declared));
  expect(outside, `declared: ${JSON.stringify(declared)}\n${out}`).toEqual([]);
  // With PostgreSQL down before the fix, rows could not be counted then: after must still answer.
  const rowsAfter = await rowCounts(host, db);
  expect(rowsAfter, `${db} does not answer after remediation`).toBeDefined();
  if (rows) expect(rowChanges(rows, rowsAfter as Map<string, number>), out).toEqual([]);
}

// The service's journal of this boot, for a failure message.
async function unitJournal(host: string) {
  const j = await hostCli(["exec", host, "--", "journalctl", "-b", "-u", "projectmeats", "--no-pager", "-n", "80", "-o", "short-monotonic"]);
  return `\njournal of projectmeats:\n${j.stdout}${j.stderr}`;
}
