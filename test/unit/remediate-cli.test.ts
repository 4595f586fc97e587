import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, test } from "vitest";
import { REPO_ROOT } from "../../fixtures/host/paths.ts";
import { EXIT } from "../../src/remediation/errors.ts";
import { catalogueVersion } from "../../src/runner/identity.ts";
import { allPass, here, vitestReport, writeAllure, writeVitest, type Row } from "./remediation-fixtures.ts";

// `npx tsx remediate` with bad input, exactly as an operator would type it: one clear line, the documented code.
// Runs as root (the CLI refuses others before reading anything); a report that passes every gate reaches the
// host only to re-read its identity and then finds nothing to fix, so these runs change nothing here.

const dir = mkdtempSync(path.join(tmpdir(), "ddv-remediate-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const QUIET = { npm_config_update_notifier: "false", NO_COLOR: "1" };

function remediate(args: string[], opts: { env?: Record<string, string>; uid?: number } = {}) {
  const argv = ["npx", "tsx", "remediate", ...args];
  const cmd = opts.uid === undefined ? argv : ["setpriv", `--reuid=${opts.uid}`, `--regid=${opts.uid}`, "--clear-groups", ...argv];
  return execa(cmd[0] as string, cmd.slice(1), { cwd: REPO_ROOT, reject: false, stdin: "ignore", timeout: 240_000, env: { ...QUIET, ...opts.env } });
}

const USAGE_START = "usage: npx tsx remediate";
// The error lines of stderr: usage text after a usage error is help, not a second error.
function errorLines(stderr: string): string[] {
  const lines = stderr.split("\n").filter((l) => l.trim());
  const u = lines.findIndex((l) => l.startsWith(USAGE_START));
  return u === -1 ? lines : lines.slice(0, u);
}

function expectOneLine(r: { stderr: string; stdout: string; exitCode?: number }, code: number, says: RegExp) {
  const why = `exit ${r.exitCode}\nstderr:\n${r.stderr}\nstdout:\n${r.stdout}`;
  expect(r.exitCode, why).toBe(code);
  const lines = errorLines(r.stderr);
  expect(lines, why).toHaveLength(1);
  expect(lines[0], why).toMatch(/^remediate: /);
  expect(lines[0], why).toMatch(says);
  // Never a stack trace, nor an internal error dressed as a refusal.
  expect(r.stderr, why).not.toMatch(/^\s+at /m);
  expect(lines[0], why).not.toMatch(/internal error|Error:|\.ts:\d+/);
  // Refused before anything was planned.
  expect(r.stdout, why).not.toMatch(/plan \(|applying/);
}

const otherHost = { hostname: "elsewhere", machineId: "0123456789abcdef0123456789abcdef" };
const old = Date.now() - 3 * 60 * 60_000; // 3 h: past the default limit of 60 min (runs may wait minutes on a loaded box)
const ids = allPass().map((r) => r.id);
const withFail = (rows: Row[]) => rows.map((r, i) => (i === 0 ? { ...r, status: "fail" } : r));

// Each run loads the whole catalogue through tsx: seconds apiece on a loaded 2-core box.
const SLOW = { timeout: 600_000 };

describe("remediate CLI: bad input", SLOW, () => {
  test("the exit codes are distinct", () => {
    expect(new Set(Object.values(EXIT)).size).toBe(Object.values(EXIT).length);
  });

  test.concurrent("no arguments: usage", async () => {
    expectOneLine(await remediate([]), EXIT.usage, /--from-report/);
  });

  test.concurrent("an unknown option", async () => {
    expectOneLine(await remediate(["--from-report", "x", "--frobnicate"]), EXIT.usage, /unknown option "--frobnicate"/);
  });

  test.concurrent("an unknown command", async () => {
    expectOneLine(await remediate(["fix-everything"]), EXIT.usage, /unknown command "fix-everything"/);
  });

  test.concurrent("--from-report without a path", async () => {
    const [bare, flag] = await Promise.all([remediate(["--from-report"]), remediate(["--from-report", "--yes"])]);
    expectOneLine(bare, EXIT.usage, /--from-report needs a report path/);
    expectOneLine(flag, EXIT.usage, /--from-report needs a report path/);
  });

  test.concurrent("an emergency playbook given a report", async () => {
    expectOneLine(await remediate(["emergency-restart", "--from-report", "r"]), EXIT.usage, /emergency-restart takes no report/);
  });

  test.concurrent("a report file that does not exist", async () => {
    expectOneLine(await remediate(["--from-report", path.join(dir, "nope.json")]), EXIT.badReport, /nope\.json does not exist/);
  });

  test.concurrent("a folder with no report in it", async () => {
    const d = path.join(dir, "empty");
    mkdirSync(d, { recursive: true });
    writeFileSync(path.join(d, "notes.txt"), "hello\n");
    expectOneLine(await remediate(["--from-report", d]), EXIT.badReport, /holds neither vitest-report\.json nor allure/);
  });

  test.concurrent("malformed JSON", async () => {
    const d = writeVitest(dir, "malformed", '{"startTime": 1, "testResults": [');
    expectOneLine(await remediate(["--from-report", d]), EXIT.badReport, /is not readable JSON/);
  });

  test.concurrent("JSON that is not a vitest report", async () => {
    const f = path.join(dir, "package-like.json");
    writeFileSync(f, JSON.stringify({ name: "x", version: "1.0.0" }));
    expectOneLine(await remediate(["--from-report", f]), EXIT.badReport, /is not a vitest JSON report/);
  });

  test.concurrent("a vitest report with no check results (some other project's tests)", async () => {
    const f = path.join(dir, "foreign-tests.json");
    writeFileSync(f, JSON.stringify({ startTime: Date.now(), testResults: [{ assertionResults: [{ title: "adds", status: "passed" }] }] }));
    expectOneLine(await remediate(["--from-report", f]), EXIT.badReport, /holds no check results/);
  });

  test.concurrent("a check result with a malformed status", async () => {
    const d = writeVitest(dir, "bad-status", vitestReport([{ id: "SVC-001", status: "purple" }]));
    expectOneLine(await remediate(["--from-report", d]), EXIT.badReport, /malformed check result/);
  });

  // This machine has no systemd as PID 1 and no deployment: nothing may be planned here, let alone started.
  test.concurrent("a failing report of this machine, where the deployment is not: exit 69, nothing planned", async () => {
    const d = writeVitest(dir, "not-deployed", vitestReport(withFail(allPass())));
    expectOneLine(await remediate(["--from-report", d, "--dry-run"]), EXIT.wrongHost, /remediation needs the host's systemd; nothing was planned/);
  });

  test.concurrent("an emergency playbook where the deployment is not: exit 69 (not an internal error)", async () => {
    for (const p of ["emergency-restart", "emergency-reset"]) expectOneLine(await remediate([p, "--dry-run"]), EXIT.wrongHost, /nothing was planned/);
  });

  test.concurrent("a report from another machine", async () => {
    const d = writeVitest(dir, "other-host", vitestReport(withFail(allPass()).map((r) => ({ ...r, host: otherHost }))));
    expectOneLine(await remediate(["--from-report", d, "--yes"]), EXIT.badReport, /is from host elsewhere \(machine-id 01234567…\), not this one/);
  });

  test.concurrent("a report with no host identity (an older validator)", async () => {
    const d = writeVitest(dir, "no-host", vitestReport(allPass().map((r) => ({ ...r, host: null }))));
    expectOneLine(await remediate(["--from-report", d]), EXIT.badReport, /carries no host identity/);
  });

  test.concurrent("a report mixing two hosts", async () => {
    const d = writeVitest(dir, "two-hosts", vitestReport(allPass().map((r, i) => (i % 2 ? { ...r, host: otherHost } : r))));
    expectOneLine(await remediate(["--from-report", d]), EXIT.badReport, /mixes results of 2 hosts/);
  });

  test.concurrent("a report naming a check this catalogue does not have", async () => {
    const d = writeVitest(dir, "unknown-id", vitestReport([...allPass(), { id: "SVC-999", status: "fail" }]));
    expectOneLine(await remediate(["--from-report", d]), EXIT.badReport, /names check SVC-999, which this catalogue does not have/);
  });

  test.concurrent("a report from an unknown catalogue version", async () => {
    const d = writeVitest(dir, "old-catalogue", vitestReport(allPass().map((r) => ({ ...r, catalogue: "0.0.1+deadbeef00" }))));
    expectOneLine(
      await remediate(["--from-report", d]),
      EXIT.badReport,
      new RegExp(`catalogue 0\\.0\\.1\\+deadbeef00, this validator has ${catalogueVersion().replace(/[.+]/g, "\\$&")}`),
    );
  });

  test.concurrent("a report with no catalogue version", async () => {
    const d = writeVitest(dir, "no-catalogue", vitestReport(allPass().map((r) => ({ ...r, catalogue: null }))));
    expectOneLine(await remediate(["--from-report", d]), EXIT.badReport, /made with catalogue unknown/);
  });

  test.concurrent("a stale report is refused; --force-stale lifts the age limit only", async () => {
    const stale = writeVitest(dir, "stale", vitestReport(allPass(), old));
    // Host and catalogue are still checked under --force-stale.
    const foreign = writeVitest(
      dir,
      "stale-foreign",
      vitestReport(
        allPass().map((r) => ({ ...r, host: otherHost })),
        old,
      ),
    );
    const oldCat = writeVitest(
      dir,
      "stale-catalogue",
      vitestReport(
        allPass().map((r) => ({ ...r, catalogue: "9.9.9+0000000000" })),
        old,
      ),
    );
    const [refused, ok, foreignR, oldCatR] = await Promise.all([
      remediate(["--from-report", stale]),
      remediate(["--from-report", stale, "--force-stale"]),
      remediate(["--from-report", foreign, "--force-stale"]),
      remediate(["--from-report", oldCat, "--force-stale"]),
    ]);
    expectOneLine(refused, EXIT.badReport, /is \d+ minutes old \(limit 60\): run the validator again, or pass --force-stale/);
    expect(ok.exitCode, ok.stderr).toBe(EXIT.ok);
    expect(ok.stdout).toMatch(new RegExp(`${ids.length} checks from ${here().hostname}, 0 failing: none`));
    expectOneLine(foreignR, EXIT.badReport, /is from host elsewhere/);
    expectOneLine(oldCatR, EXIT.badReport, /made with catalogue 9\.9\.9/);
  });

  test.concurrent("the age limit comes from the config (remediation.maxReportAgeMinutes)", async () => {
    const cfg = path.join(dir, "short-age.config.json");
    writeFileSync(cfg, JSON.stringify({ remediation: { maxReportAgeMinutes: 1 } }));
    const d = writeVitest(dir, "two-minutes", vitestReport(allPass(), Date.now() - 5 * 60_000));
    expectOneLine(await remediate(["--from-report", d], { env: { DEPLOY_CONFIG: cfg } }), EXIT.badReport, /is \d+ minutes old \(limit 1\)/);
  });

  test.concurrent("a report dated in the future", async () => {
    const d = writeVitest(dir, "future", vitestReport(allPass(), Date.now() + 120 * 60_000));
    expectOneLine(await remediate(["--from-report", d]), EXIT.badReport, /dated \d+ minutes in the future/);
  });

  test.concurrent("an allure-results folder from another machine", async () => {
    const d = writeAllure(
      path.join(dir, "allure-foreign"),
      allPass().map((r) => ({ ...r, host: otherHost })),
      Date.now(),
    );
    expectOneLine(await remediate(["--from-report", d]), EXIT.badReport, /is from host elsewhere/);
  });

  test.concurrent("an allure-results folder with a result that is not allure's", async () => {
    const d = writeAllure(path.join(dir, "allure-broken"), allPass(), Date.now());
    writeFileSync(path.join(d, "zz-result.json"), JSON.stringify({ labels: "nope" }));
    expectOneLine(await remediate(["--from-report", d]), EXIT.badReport, /zz-result\.json is not an allure result/);
  });

  test.concurrent("a broken config: exit 78", async () => {
    const d = writeVitest(dir, "for-config", vitestReport(allPass()));
    expectOneLine(await remediate(["--from-report", d], { env: { DEPLOY_CONFIG: path.join(dir, "missing.config.json") } }), EXIT.config, /does not exist/);
  });

  test.concurrent("not root: exit 77 before the report is read", async () => {
    const r = await remediate(["--from-report", path.join(dir, "nope.json")], { uid: 65534, env: { HOME: dir } });
    expectOneLine(r, EXIT.notRoot, /run it as root/);
  });
});

// The validator on the same input: it stops before any check with its message and the same exit code.
function validator(env: Record<string, string>) {
  return execa("npx", ["vitest", "run", "specs/smoke"], {
    cwd: REPO_ROOT,
    reject: false,
    stdin: "ignore",
    timeout: 240_000,
    env: { ...QUIET, ...env, DDV_REPORTS_DIR: path.join(dir, "validator-reports") },
  });
}

describe("the same bad input, the same exit code from every entry point", SLOW, () => {
  const inventory = { DEPLOY_INVENTORY: "/nope.yml" };
  test.each([
    ["an inventory file that does not exist", inventory, EXIT.targets, /inventory file \/nope\.yml \(from DEPLOY_INVENTORY\) does not exist/],
    ["DEPLOY_LIMIT without an inventory", { DEPLOY_LIMIT: "web" }, EXIT.targets, /DEPLOY_LIMIT "web" needs DEPLOY_INVENTORY/],
    ["a DEPLOY_HOSTS entry that is not a host", { DEPLOY_HOSTS: "web 1" }, EXIT.targets, /DEPLOY_HOSTS entry "web 1" is not \[user@\]host/],
    ["a bad DEPLOY_* value", { DEPLOY_GUNICORN_URL: "foo" }, EXIT.config, /DEPLOY_GUNICORN_URL="foo" is not usable: must be an http URL/],
    ["DEPLOY_CONFIG set but empty", { DEPLOY_CONFIG: "" }, EXIT.config, /DEPLOY_CONFIG is set but empty/],
  ])("%s", async (_what, env, code, says) => {
    const report = writeVitest(dir, "any-input", vitestReport(allPass()));
    const [fix, emergency, validate] = await Promise.all([
      remediate(["--from-report", report, "--dry-run"], { env }),
      remediate(["emergency-restart", "--dry-run"], { env }),
      validator(env),
    ]);
    expectOneLine(fix, code, says);
    expectOneLine(emergency, code, says);
    expect(validate.exitCode, validate.stderr).toBe(code);
    expect(validate.stderr).toMatch(says);
    expect(validate.stdout, validate.stdout).not.toMatch(/Test Files/);
  });
});

describe("remediate CLI: good reports of a healthy host", SLOW, () => {
  test.concurrent("a vitest report (file or its folder) with nothing failing: exit 0, nothing planned", async () => {
    const d = writeVitest(dir, "healthy", vitestReport(allPass()));
    for (const r of await Promise.all([d, path.join(d, "vitest-report.json")].map((p) => remediate(["--from-report", p])))) {
      expect(r.exitCode, r.stderr).toBe(EXIT.ok);
      expect(r.stderr).toBe("");
      expect(r.stdout).toMatch(/0 failing: none/);
    }
  });

  test.concurrent("an allure-results folder: the newest result per check counts", async () => {
    const d = path.join(dir, "allure-results");
    // An older run saw SVC-001 fail; the newer one saw everything pass.
    writeAllure(d, withFail(allPass()), Date.now() - 10 * 60_000, "old");
    writeAllure(d, allPass(), Date.now() - 60_000, "new");
    const r = await remediate(["--from-report", d]);
    expect(r.exitCode, r.stderr).toBe(EXIT.ok);
    expect(r.stdout).toMatch(new RegExp(`${ids.length} checks from .*, 0 failing: none`));
  });
});
