import { describe, expect, test } from "vitest";
import { defineCheck } from "../../src/checks/define.ts";
import { checkById } from "../../src/checks/index.ts";
import { EXIT } from "../../src/remediation/errors.ts";
import { assertDeployedHere } from "../../src/remediation/run.ts";
import { Evaluator } from "../../src/runner/evaluate.ts";
import { explainUnjudged, type Ran } from "../../src/vitest-adapter/unjudged.ts";
import { errorAdvice, wrongMachine } from "../../src/vitest-adapter/where.ts";
import { BUS, healthyCommands } from "./healthy-replay.ts";
import { recorded, replayContext, replayTransport } from "./replay.ts";

// What systemctl says where systemd is not PID 1 (a container, a CI runner, a laptop's shell): two lines.
const NO_SYSTEMD = {
  exitCode: 1,
  stderr: "System has not been booted with systemd as init system (PID 1). Can't operate.\nFailed to connect to bus: Host is down\n",
};
const noSystemd = () => replayContext(replayTransport({ systemctl: NO_SYSTEMD, busctl: NO_SYSTEMD }));

// A host with systemd where the configured unit is not installed (and nothing of it runs).
const gone = recorded("systemctl-show-healthy.txt")
  .replace("MainPID=70", "MainPID=0")
  .replace("LoadState=loaded", "LoadState=not-found")
  .replace("ActiveState=active\nSubState=running", "ActiveState=inactive\nSubState=dead");
const noUnit = () =>
  replayContext(replayTransport({ ...healthyCommands(gone), [`${BUS}projectmeats_2eservice `]: { stdout: '{"type":"a(sasbttttuii)","data":[]}' } }));

describe("which machine this is, said once before the checks", () => {
  test("no systemd: said with what to do; each check that could not look gets short advice", () => {
    const w = wrongMachine("projectmeats", { systemd: () => false });
    expect(w?.kind).toBe("no-systemd");
    expect(w?.note).toMatch(/^this machine is not the deployment's host: systemd is not running here \(no \/run\/systemd\/system\)/);
    expect(w?.note).toMatch(/over ssh with DEPLOY_HOSTS\.$/);
    expect(w?.advice).not.toContain("\n");
  });

  test("no such unit: named, with the variable to set", () => {
    const w = wrongMachine("shop", { systemd: () => true, loadState: () => "not-found", uid: () => 0 });
    expect(w).toMatchObject({ kind: "no-unit", note: expect.stringMatching(/^this host has no unit shop\.service \(LoadState=not-found\).*DEPLOY_SERVICE/) });
    expect(w?.note).toMatch(/`npm run discover` \(as root, on this host\) finds the Django service and writes it for you\.$/);
    expect(w?.advice).toMatch(/^this host has no unit shop\.service: set DEPLOY_SERVICE/);
  });

  test("not root, or nothing amiss", () => {
    const user = wrongMachine("shop", { systemd: () => true, loadState: () => "loaded", uid: () => 1000 });
    expect(user?.kind).toBe("not-root");
    // Not being root explains a refused read, not a missing nginx.
    expect(errorAdvice(user, "could not check: cannot read /proc/70/environ: EACCES")).toMatch(/^run the validator as root/);
    expect(errorAdvice(user, "could not check: nginx could not run: ENOENT")).toBeUndefined();
    expect(errorAdvice(wrongMachine("shop", { systemd: () => false }), "could not check: nginx could not run: ENOENT")).toMatch(/^nothing to fix here/);
    expect(wrongMachine("shop", { systemd: () => true, loadState: () => "loaded", uid: () => 0 })).toBeUndefined();
  });
});

describe("checks on a machine without systemd", () => {
  test("one short line per check, no second line, no doubled 'could not check'", async () => {
    const [unit, pg] = await new Evaluator(noSystemd()).all(["SVC-016", "SVC-012"]);
    for (const o of [unit, pg]) {
      expect(o?.status).toBe("error");
      expect(o?.observed).toBe("could not check: systemd is not running on this host (PID 1 is not systemd): systemctl cannot answer");
    }
  });

  test("a root cause outside the run is named without 'could not be checked: could not check:', and the same words once", async () => {
    // Only the security suite is in this run: SEC-008's root SVC-016 is not, so SEC-008 judges for itself.
    const ev = new Evaluator(noSystemd(), new Set(["SEC-008"]));
    const o = await ev.evaluate("SEC-008");
    expect(o.status).toBe("error");
    expect(o.observed).not.toMatch(/could not check:.*could not check:/);
    expect(o.observed).toMatch(/root cause: SVC-016 \(.*\) could not be checked, for the same reason$/);
    // A different error of the root is quoted after one "could not be checked:".
    const root = defineCheck(
      { id: "SVC-901", title: "a root", suite: "service", severity: "high", expects: "something", recommendation: "do something" },
      {
        run: async () => {
          throw new Error("systemctl timed out");
        },
      },
    );
    const leaf = defineCheck(
      { id: "SEC-901", title: "a leaf", suite: "security", severity: "high", expects: "something", recommendation: "do something", dependsOn: ["SVC-901"] },
      {
        run: async () => {
          throw new Error("no answer");
        },
      },
    );
    const checks = new Map([root, leaf].map((c) => [c.id, c]));
    const lookup = (id: string) => checks.get(id) ?? checkById(id);
    const own = await new Evaluator(noSystemd(), new Set(["SEC-901"]), lookup).evaluate("SEC-901");
    expect(own.observed).toBe("could not check: no answer; root cause: SVC-901 (a root) could not be checked: systemctl timed out");
  });

  test("SEC-011 with nothing read is an error, and with no secret among what was read it is a skip: never a pass", async () => {
    expect(await new Evaluator(noSystemd()).evaluate("SEC-011")).toMatchObject({ status: "error" });
    // The unit's env file holds no variable named as a secret (settings written into settings.py, say).
    const t = replayTransport(healthyCommands(), { "/etc/projectmeats/projectmeats.env": "DEBUG=False\nALLOWED_HOSTS=example.com\n" });
    const o = await new Evaluator(replayContext(t)).evaluate("SEC-011");
    expect(o.status).toBe("skip");
    expect(o.observed).toMatch(/^no variable named as a secret \(config\.secrets\) is set in .*: no length to judge$/);
    expect(o.observed).not.toMatch(/every secret/);
    // With a secret, the pass says where it looked.
    const withKey = replayTransport(healthyCommands(), { "/etc/projectmeats/projectmeats.env": `SECRET_KEY=${"k".repeat(50)}\n` });
    const ok = await new Evaluator(replayContext(withKey)).evaluate("SEC-011");
    expect(ok).toMatchObject({ status: "pass", observed: expect.stringMatching(/^every secret is at least 8 characters \(1 found in .+\)$/) });
  });
});

describe("checks on a host without the configured unit", () => {
  test("FS-004 is blocked by SVC-016, not a finding about a static root that belongs to no deployment here", async () => {
    const ev = new Evaluator(noUnit());
    const [unit, statics] = await ev.all(["SVC-016", "FS-004"]);
    expect(unit?.status).toBe("fail");
    expect(statics).toMatchObject({ status: "skip", blockedBy: "SVC-016" });
    expect(checkById("FS-004").dependsOn).toContain("SVC-016");
  });
});

describe("a suite in which nothing was checked is not green", () => {
  const blocked = (id: string, target?: string): Ran => ({ meta: { status: "skip", blockedBy: id, target } });
  const red = async (root: string) => (root === "SVC-016" ? "could not be checked" : root === "SVC-001" ? "failed" : undefined);

  test("every check blocked, some by a root that could not look: one line naming those roots", async () => {
    const why = await explainUnjudged("http", [blocked("SVC-016"), blocked("SVC-016"), blocked("SVC-001"), { meta: { status: "skip" } }], red);
    expect(why).toBe("nothing in the http suite was checked: its 4 checks were skipped, blocked by SVC-016 (could not be checked); this suite is not green");
    expect(await explainUnjudged("http", [blocked("SVC-016", "web1")], red)).toContain("SVC-016 [web1] (could not be checked)");
  });

  test("anything judged, a root that is not red (waived, below failOn), or nothing run: no complaint", async () => {
    expect(await explainUnjudged("http", [blocked("SVC-016"), { meta: { status: "pass" } }], red)).toBeUndefined();
    expect(await explainUnjudged("http", [blocked("SVC-016"), { meta: { status: "error" } }], red)).toBeUndefined();
    expect(await explainUnjudged("http", [blocked("SVC-009")], red)).toBeUndefined();
    // A failed root is the finding (a stopped service): its dependants stay quiet skips.
    expect(await explainUnjudged("http", [blocked("SVC-001"), blocked("SVC-001")], red)).toBeUndefined();
    expect(await explainUnjudged("http", [{ meta: { status: "skip" } }], red)).toBeUndefined();
    expect(await explainUnjudged("http", [{ meta: {} }], red)).toBeUndefined();
  });
});

describe("remediation on such a machine: one line, exit 69", () => {
  test("no systemd", async () => {
    await expect(assertDeployedHere(noSystemd(), "box")).rejects.toMatchObject({
      exitCode: EXIT.wrongHost,
      message: "no systemd on box (PID 1 is not systemd): remediation needs the host's systemd; nothing was planned",
    });
  });

  test("no such unit", async () => {
    await expect(assertDeployedHere(noUnit(), "box")).rejects.toMatchObject({
      exitCode: EXIT.wrongHost,
      message: expect.stringMatching(/^no unit projectmeats\.service on box: the deployment is not on this host \(set DEPLOY_SERVICE .*; nothing was planned$/),
    });
  });

  test("the wrong-host code is its own, not the internal error's", () => {
    expect(EXIT.wrongHost).not.toBe(EXIT.internal);
    expect(new Set(Object.values(EXIT)).size).toBe(Object.values(EXIT).length);
  });
});
