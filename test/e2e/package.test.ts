import { catalogue } from "../../src/checks/index.ts";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, expect, test } from "vitest";
import { REPO_ROOT } from "../../fixtures/host/paths.ts";
import { describeE2E } from "./e2e.ts";

// What a server installs: a clone of this commit with `npm ci --omit=dev`, no dev tools. The gate, the report and
// remediate must all start (on this machine the gate is red, systemd not being PID 1: it must run and say so).
const dir = mkdtempSync(path.join(tmpdir(), "ddv-package-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sh = (cmd: string, args: string[], env: Record<string, string> = {}) =>
  execa(cmd, args, { cwd: dir, reject: false, stdin: "ignore", timeout: 300_000, env: { npm_config_update_notifier: "false", NO_COLOR: "1", ...env } });

describeE2E("the package a server installs", () => {
  test("npm ci --omit=dev, then the gate, the report and remediate run", { timeout: 900_000 }, async () => {
    expect((await execa("git", ["clone", "-q", REPO_ROOT, dir], { reject: false })).exitCode).toBe(0);
    const ci = await sh("npm", ["ci", "--omit=dev", "--prefer-offline", "--no-audit", "--no-fund"]);
    expect(ci.exitCode, ci.stderr).toBe(0);
    expect(existsSync(path.join(dir, "node_modules/typescript")), "a dev tool was installed").toBe(false);
    const help = await sh("npx", ["tsx", "remediate", "--help"]);
    expect(help.exitCode, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^usage: npx tsx remediate --from-report/);
    const gate = await sh("npx", ["vitest", "run", "specs/smoke"]);
    const out = `${gate.stdout}\n${gate.stderr}`;
    expect(out).not.toMatch(/Cannot find (package|module)|ERR_MODULE_NOT_FOUND/);
    const report = JSON.parse(readFileSync(path.join(dir, "reports/vitest-report.json"), "utf8")) as { numTotalTests: number };
    expect(report.numTotalTests, out).toBe(catalogue.filter((c) => c.smoke).length);
    const html = await sh("npm", ["run", "report"]);
    expect(html.exitCode, `${html.stdout}\n${html.stderr}`).toBe(0);
    expect(existsSync(path.join(dir, "reports/allure-report/index.html"))).toBe(true);
  });
});
