import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import type { RemediateError } from "../../src/remediation/errors.ts";
import { parseScheduleArgs, spanSeconds } from "../../src/schedule/args.ts";
import { notRootsAlone } from "../../src/schedule/checkout.ts";
import { keptEnv, unitFiles } from "../../src/schedule/install.ts";
import { execWord, FAILURE_SCRIPT, failureScript, failureService, type GateSpec, gateService, gateTimer } from "../../src/schedule/units.ts";

// The units `npm run schedule -- install` writes, read as text (test/e2e/schedule.test.ts runs them under systemd).
const dir = mkdtempSync(path.join(tmpdir(), "ddv-schedule-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const spec: GateSpec = { checkout: "/opt/ddv", node: "/usr/bin/node", every: "15min", env: { DEPLOY_CONFIG: "/etc/ddv/config.json" } };

describe("the gate's units", () => {
  test("the service runs vitest's smoke gate from the checkout as root, its reports under the state directory", () => {
    const s = gateService(spec);
    expect(s).toContain('ExecStart="/usr/bin/node" "/opt/ddv/node_modules/vitest/vitest.mjs" "run" "specs/smoke"');
    expect(s).toContain("WorkingDirectory=/opt/ddv\n");
    expect(s).toContain('Environment="DEPLOY_CONFIG=/etc/ddv/config.json"');
    expect(s).toContain('Environment="DDV_REPORTS_DIR=/var/lib/ddv/gate/reports"');
    expect(s).toMatch(/^Type=oneshot$/m);
    expect(s).toMatch(/^StateDirectory=ddv\/gate$/m);
    expect(s).not.toMatch(/^User=|^PrivateTmp/m);
    expect(s).not.toContain("OnFailure=");
    expect(gateService({ ...spec, onFailure: "true" })).toMatch(/^OnFailure=ddv-gate-failed\.service$/m);
  });

  test("the timer fires one interval after it starts and after each run began, to the second", () => {
    const t = gateTimer({ ...spec, every: "20s" });
    expect(t).toMatch(/^OnActiveSec=20s$/m);
    expect(t).toMatch(/^OnUnitActiveSec=20s$/m);
    expect(t).toMatch(/^AccuracySec=1s$/m);
    expect(t).toMatch(/^WantedBy=timers\.target$/m);
  });

  test("Exec and Environment words reach their program as typed: systemd's % and $ escaped, quotes and backslashes too", () => {
    const word = String.raw`/opt/my "ddv"/$HOME 100% \n`;
    expect(execWord(word)).toBe(String.raw`"/opt/my \"ddv\"/$$HOME 100%% \\n"`);
    expect(() => execWord("a\nb")).toThrow(/newline/);
    expect(gateService({ ...spec, env: { DEPLOY_CONFIG: '/x/"50%"' } })).toContain(String.raw`Environment="DEPLOY_CONFIG=/x/\"50%%\""`);
  });

  test("the failure command lives in a root-only script, never in a unit every user can read", () => {
    const cmd = 'curl -fsS -H "Authorization: Bearer T0KEN" https://hooks.example/red';
    const files = unitFiles({ ...spec, onFailure: cmd });
    const script = files.find((f) => f.path === FAILURE_SCRIPT);
    expect(script?.mode).toBe(0o700);
    expect(script?.content).toBe(`${failureScript(cmd)}`);
    expect(script?.content.split("\n")).toEqual(["#!/bin/sh", expect.stringMatching(/^# /), cmd, ""]);
    for (const f of files.filter((x) => x.path !== FAILURE_SCRIPT)) expect(f.content).not.toContain("T0KEN");
    expect(failureService()).toContain(`ExecStart=/bin/sh ${FAILURE_SCRIPT}\n`);
    expect(failureService()).toContain('Environment="DDV_GATE=red"');
  });

  test("install writes two units; with --on-failure, the script and its unit too", () => {
    expect(unitFiles(spec).map((f) => path.basename(f.path))).toEqual(["ddv-gate.service", "ddv-gate.timer"]);
    expect(unitFiles({ ...spec, onFailure: "x" }).map((f) => f.path)).toEqual([
      "/etc/systemd/system/ddv-gate.service",
      "/etc/systemd/system/ddv-gate.timer",
      "/var/lib/ddv/schedule/on-failure.sh",
      "/etc/systemd/system/ddv-gate-failed.service",
    ]);
  });

  test("the gate keeps DEPLOY_* and DDV_TEXTFILE_DIR (a relative config made absolute), nothing else", () => {
    const env = { DEPLOY_CONFIG: "cfg.json", DEPLOY_SERVICE: "shop", DDV_TEXTFILE_DIR: "/m", SECRET_KEY: "s", PATH: "/bin" };
    expect(keptEnv(env, "/srv")).toEqual({ DEPLOY_CONFIG: "/srv/cfg.json", DEPLOY_SERVICE: "shop", DDV_TEXTFILE_DIR: "/m" });
    writeFileSync(path.join(dir, "deploy.config.json"), "{}");
    expect(keptEnv({}, dir)).toEqual({ DEPLOY_CONFIG: path.join(dir, "deploy.config.json") });
  });
});

describe("schedule's arguments", () => {
  const code = (argv: string[]) => {
    try {
      parseScheduleArgs(argv);
      return 0;
    } catch (err) {
      return (err as RemediateError).exitCode;
    }
  };

  test("time spans as systemd reads them, in seconds", () => {
    expect(spanSeconds("15min")).toBe(900);
    expect(spanSeconds("1h 30min")).toBe(5400);
    expect(spanSeconds("20s")).toBe(20);
    for (const bad of ["20", "15 mins", "fast", "", "1h30x"]) expect(spanSeconds(bad), bad).toBeUndefined();
  });

  test("good input parses; bad input is exit 64 with one reason", () => {
    expect(parseScheduleArgs(["install"])).toEqual({ command: "install", every: "15min", dryRun: false });
    expect(parseScheduleArgs(["install", "--every", "1h", "--on-failure", "logger red", "--dry-run"])).toEqual({
      command: "install",
      every: "1h",
      onFailure: "logger red",
      dryRun: true,
    });
    expect(parseScheduleArgs(["help"])).toBe("help");
    for (const bad of [[], ["start"], ["install", "--every", "5s"], ["install", "--every", "soon"], ["install", "--every"], ["install", "--on-failure", " "]])
      expect(code(bad), bad.join(" ")).toBe(64);
    for (const bad of [
      ["install", "--on-failure", "a\nb"],
      ["install", "--dry-run", "--dry-run"],
      ["uninstall", "--every", "1h"],
      ["status", "--dry-run"],
    ])
      expect(code(bad), bad.join(" ")).toBe(64);
    expect(() => parseScheduleArgs(["install", "--every", "soon"])).toThrow(/not a time span: say 15min/);
  });
});

describe("the code root runs", () => {
  test("refused when another user could change it: a group- or world-writable directory on the way", () => {
    const d = mkdtempSync(path.join(dir, "co-"));
    writeFileSync(path.join(d, "x.mjs"), "");
    expect(notRootsAlone(path.join(d, "x.mjs"))).toBeUndefined();
    chmodSync(d, 0o775);
    expect(notRootsAlone(path.join(d, "x.mjs"))).toMatch(/is writable by group \d+ \(mode 775\)/);
    chmodSync(d, 0o777);
    expect(notRootsAlone(path.join(d, "x.mjs"))).toMatch(/writable by every user/);
  });
});
