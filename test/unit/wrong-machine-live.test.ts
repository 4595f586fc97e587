import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, test } from "vitest";
import { REPO_ROOT } from "../../fixtures/host/paths.ts";
import { EXIT } from "../../src/remediation/errors.ts";

// The validator and remediate run for real on this machine when it has no systemd (a container, a CI runner): what a
// new user sees who runs them in the wrong place. Read-only: nothing here can be checked, let alone changed.
const dir = mkdtempSync(path.join(tmpdir(), "ddv-wrong-machine-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const noSystemd = !existsSync("/run/systemd/system");

function validate(args: string[], name: string) {
  const reports = path.join(dir, name);
  return execa("npx", ["vitest", "run", ...args], {
    cwd: REPO_ROOT,
    reject: false,
    stdin: "ignore",
    all: true,
    timeout: 240_000,
    env: { NO_COLOR: "1", DDV_REPORTS_DIR: reports, npm_config_update_notifier: "false" },
  }).then((r) => ({ ...r, reports }));
}

type Result = { meta: { checkId?: string; status?: string; blockedBy?: string } };
const results = (reports: string) =>
  (JSON.parse(readFileSync(path.join(reports, "vitest-report.json"), "utf8")) as { testResults: Array<{ assertionResults: Result[] }> }).testResults
    .flatMap((f) => f.assertionResults)
    .map((t) => t.meta);

// The lines of each failure block ("FAIL ... > <check>" up to the next rule): every one after the first is indented.
function failureBlocks(out: string): string[][] {
  const blocks: string[][] = [];
  let cur: string[] | undefined;
  for (const l of out.split("\n")) {
    if (/^ FAIL {2}specs\/.* > /.test(l)) blocks.push((cur = []));
    else if (l.startsWith("⎯")) cur = undefined;
    else if (cur && l.trim()) cur.push(l);
  }
  return blocks;
}

describe.skipIf(!noSystemd)("on a machine without systemd", { timeout: 300_000 }, () => {
  test.concurrent("the gate: said once at the start, one short line per check, indented, no deployed-host advice", async () => {
    const r = await validate(["specs/smoke"], "smoke");
    expect(r.exitCode, r.all).toBe(1);
    const out = r.all ?? "";
    expect(out.match(/^ddv: this machine is not the deployment's host: systemd is not running here/gm), out).toHaveLength(1);
    expect(out.indexOf("ddv: this machine")).toBeLessThan(out.indexOf("specs/smoke/smoke.spec.ts"));
    expect(out).not.toContain("System has not been booted with systemd");
    expect(out).not.toMatch(/could not check: could not check|could not be checked: could not check/);
    const blocks = failureBlocks(out);
    expect(blocks.length, out).toBeGreaterThan(0);
    for (const b of blocks) {
      expect(b[0], out).toMatch(/^CheckError: \S+ ERROR \(could not check\): /);
      for (const l of b.slice(1)) expect(l, out).toMatch(/^ {2}/);
      expect(
        b.find((l) => l.startsWith("  do:")),
        out,
      ).toMatch(/^ {2}do: +nothing to fix here \(this machine is not the deployment's host\)/);
    }
  });

  test.concurrent("every suite: none green with nothing checked; FS-004 blocked by SVC-016; SEC-011 never a pass", async () => {
    const r = await validate([], "all");
    expect(r.exitCode, r.all).toBe(1);
    const out = r.all ?? "";
    expect(out, out).not.toMatch(/^ ✓ specs\//m);
    expect(out).toMatch(/nothing in the http suite was checked: its 12 checks were skipped, blocked by SVC-016 \(could not be checked\)/);
    const meta = results(r.reports);
    expect(meta.find((m) => m.checkId === "FS-004")).toMatchObject({ status: "skip", blockedBy: "SVC-016" });
    expect(meta.find((m) => m.checkId === "SEC-011")?.status).toBe("error");
    expect(meta.filter((m) => m.status === "pass").map((m) => m.checkId)).toEqual([]);
  });

  test.concurrent("emergency-restart --dry-run: one line, no systemd here, the wrong-host code", async () => {
    const r = await execa("npx", ["tsx", "remediate", "emergency-restart", "--dry-run"], { cwd: REPO_ROOT, reject: false, stdin: "ignore", timeout: 240_000 });
    expect(r.exitCode, r.stderr).toBe(EXIT.wrongHost);
    expect(r.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^remediate: no systemd on \S+ \(PID 1 is not systemd\): remediation needs the host's systemd; nothing was planned$/),
    ]);
    expect(r.stdout).toBe("");
  });
});
