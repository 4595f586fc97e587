import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, test } from "vitest";
import { type Fleet, inventoryLine, makeKey, prepareFleet } from "../../fixtures/fleet.ts";
import { REPO_ROOT } from "../../fixtures/host/paths.ts";
import { resultsFolderOf } from "../../src/remediation/allure.ts";
import { describeE2E } from "./e2e.ts";
import { byStatus, validateFleet, watchCommandLines } from "./fleet-helpers.ts";
import { assertNoProcessWarnings, hostCli } from "./hosts.ts";
import { hostSecrets, STATE_DIR, shInside } from "./remediation-helpers.ts";

// Fleets over OpenSSH, on three real reference hosts with sshd inside, reached only through ProxyCommand into
// each host's own network namespace: one smoke run checks all of them (one host broken), remediation fixes the
// broken one over ssh, a master connection killed mid-run errors (never passes, never hangs), and each way of
// not getting in says so once.
const [A, B, C] = ["e2e-fleet-a", "e2e-fleet-b", "e2e-fleet-c"] as const;
const DIR = path.join(REPO_ROOT, "reports/e2e/fleet-ssh");
let fleet: Fleet;
let inventory = "";

// PIDs whose command line matches `pattern`; pgrep runs directly (a shell around it would match its own pattern).
function pgrep(pattern: string): number[] {
  try {
    return execFileSync("pgrep", ["-f", pattern], { encoding: "utf8" }).trim().split("\n").map(Number).filter(Boolean);
  } catch {
    return []; // exit 1: none
  }
}

describeE2E("fleets over ssh", () => {
  beforeAll(async () => {
    const ups = await Promise.all([hostCli(["up", "--name", A]), hostCli(["up", "--scenario", "debug-on", "--name", B]), hostCli(["up", "--name", C])]);
    for (const up of ups) expect(up.exitCode, up.stderr).toBe(0);
    rmSync(DIR, { recursive: true, force: true });
    fleet = await prepareFleet([A, B, C], DIR, [
      { name: "deploy", sudo: "nopasswd" },
      { name: "needpw", sudo: "password" },
    ]);
    inventory = path.join(DIR, "inventory.ini");
    // C is reached as a non-root user with passwordless sudo, as many teams run Ansible.
    writeFileSync(
      inventory,
      ["[web]", inventoryLine(fleet, A), inventoryLine(fleet, B), inventoryLine(fleet, C, { user: "deploy", become: true }), ""].join("\n"),
    );
  }, 600_000);

  afterAll(async () => {
    await Promise.all([A, B, C].map((h) => hostCli(["down", h])));
  });

  test("one smoke run covers every host: the broken one red with its IDs, the others green, each check reported per host", async () => {
    const secrets = [...new Set((await Promise.all([A, B, C].map(hostSecrets))).flat())];
    expect(secrets.length).toBeGreaterThan(1);
    const stop = watchCommandLines(secrets);
    const r = await validateFleet(["specs/smoke"], { DEPLOY_INVENTORY: inventory }, "fleet-smoke");
    // The service's environment reached each host's Python start on the helper's stdin, never in a command line.
    const seen = await stop();
    expect(seen.hits, `${seen.samples} samples`).toEqual([]);
    expect(seen.samples).toBeGreaterThan(10);
    expect(r.exitCode, r.output).toBe(1);
    const a = byStatus(r.rows, A);
    const b = byStatus(r.rows, B);
    const c = byStatus(r.rows, C);
    expect(Object.keys(a), r.output).toEqual(["pass"]);
    expect(Object.keys(c), r.output).toEqual(["pass"]);
    expect(b.fail, r.output).toEqual(["SEC-001"]);
    expect(b.error, r.output).toBeUndefined();
    expect(a.pass?.length).toBeGreaterThan(10);
    expect(c.pass).toEqual(a.pass);
    // Each host's identity is read from that host (remediation refuses a report whose machine-id is not the
    // host's). The reference hosts are copies of one image and share /etc/machine-id, so the ids are equal here.
    const ids = new Map(r.rows.map((x) => [x.target, x.machineId]));
    expect(r.rows.every((x) => x.machineId && ids.get(x.target) === x.machineId)).toBe(true);
    expect(ids.size).toBe(3);
    // The host is in the test name (terminal, JUnit), the JSON meta and the Allure labels.
    expect(r.output).toContain(`SEC-001 [${B}] DEBUG is off`);
    expect(readFileSync(path.join(REPO_ROOT, r.dir, "junit.xml"), "utf8")).toContain(`SEC-001 [${B}]`);
    const results = readdirSync(path.join(REPO_ROOT, r.dir, "allure-results")).filter((n) => n.endsWith("-result.json"));
    const labelled = results.map(
      (n) =>
        JSON.parse(readFileSync(path.join(REPO_ROOT, r.dir, "allure-results", n), "utf8")) as {
          status: string;
          labels: Array<{ name: string; value: string }>;
        },
    );
    const sec001 = labelled.filter((x) => x.labels.some((l) => l.name === "check_id" && l.value === "SEC-001"));
    expect(sec001.map((x) => [x.labels.find((l) => l.name === "target")?.value, x.status]).sort()).toEqual([
      [A, "passed"],
      [B, "failed"],
      [C, "passed"],
    ]);
  }, 300_000);

  test("remediation over ssh fixes only the broken host, keeps its backups there, and the fleet comes back green", async () => {
    // First as a user who is neither root nor allowed sudo on the first host: refused there, nothing attempted after.
    const plain = path.join(DIR, "plain-user.ini");
    writeFileSync(plain, ["[web]", inventoryLine(fleet, A, { user: "deploy" }), inventoryLine(fleet, B), inventoryLine(fleet, C), ""].join("\n"));
    const refused = await execa("npx", ["tsx", "remediate", "--from-report", "reports/e2e/fleet-smoke", "--yes"], {
      cwd: REPO_ROOT,
      reject: false,
      timeout: 120_000,
      stdin: "ignore",
      env: { DEPLOY_INVENTORY: plain, NO_COLOR: "1" },
    });
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(77);
    expect(refused.stdout).toMatch(new RegExp(`\\[${A}\\] refused: the ssh user on ${A} is not root \\(uid \\d+\\)`));
    expect(refused.stdout).toContain(`not attempted: ${B}, ${C}`);
    const stop = watchCommandLines(await hostSecrets(B));
    const rm = await execa("npx", ["tsx", "remediate", "--from-report", "reports/e2e/fleet-smoke", "--yes"], {
      cwd: REPO_ROOT,
      reject: false,
      timeout: 300_000,
      stdin: "ignore",
      env: { DEPLOY_INVENTORY: inventory, NO_COLOR: "1" },
    });
    const out = `${rm.stdout}\n${rm.stderr}`;
    // Its steps as the service (manage.py check with the service's environment) took no secret on a command line.
    const seen = await stop();
    expect(seen.hits, `${seen.samples} samples`).toEqual([]);
    assertNoProcessWarnings(out, "remediate on the fleet");
    expect(rm.exitCode, out).toBe(0);
    expect(out).toMatch(new RegExp(`\\[${B}\\]\\s+ok\\s+set-debug-false \\(SEC-001\\): verified`));
    for (const h of [A, C]) expect(out).toContain(`[${h}] report reports/e2e/fleet-smoke/vitest-report.json: 21 checks`.replace("21 checks", ""));
    expect(out).not.toMatch(new RegExp(`\\[(${A}|${C})\\] (plan|applying)`));
    // Its Allure results in its own folder: another host's remediation in the same run cannot replace them.
    const mine = path.join(REPO_ROOT, "reports", "remediation-results", resultsFolderOf(B));
    const names = readdirSync(mine).map((f) => (JSON.parse(readFileSync(path.join(mine, f), "utf8")) as { name: string }).name);
    expect(names).toContain("remediation set-debug-false (SEC-001)");
    // Backups and the audit log live on the host that was changed, and only there.
    const listed = await Promise.all([A, B].map((h) => shInside(h, `ls ${STATE_DIR} 2>/dev/null | wc -l`)));
    expect(Number(listed[0]?.stdout.trim())).toBe(0);
    expect(Number(listed[1]?.stdout.trim())).toBeGreaterThan(0);
    const again = await validateFleet(["specs/smoke"], { DEPLOY_INVENTORY: inventory }, "fleet-smoke-after");
    expect(again.exitCode, again.output).toBe(0);
  }, 600_000);

  test("a master connection killed mid-run turns the host's remaining checks into errors: no hang, no pass", async () => {
    const dir = "reports/e2e/fleet-killed";
    const run = execa("npx", ["vitest", "run", "specs/service", "specs/http", "specs/database", "specs/fs-permissions", "specs/security"], {
      cwd: REPO_ROOT,
      reject: false,
      timeout: 300_000,
      stdin: "ignore",
      env: { DEPLOY_INVENTORY: inventory, DEPLOY_LIMIT: A, DDV_REPORTS_DIR: dir, NO_COLOR: "1" },
    });
    // Killed once the first spec file has finished (its line in the run's own progress): the host was reached and
    // judged, and the files still to come start their checks after the kill, whatever order vitest picks.
    const firstFileDone = new Promise<void>((resolve) => {
      let seen = "";
      run.stdout?.on("data", (b: Buffer) => {
        seen += b.toString();
        if (/^\s*\S+ specs\/[\w-]+\/[\w-]+\.spec\.ts /m.test(seen)) resolve();
      });
    });
    await Promise.race([firstFileDone, run]);
    // The master is the one ssh process with ControlMaster=yes for this host.
    const master = pgrep(`ControlMaster=yes.* ${A} `)[0];
    expect(master, "no master connection while the run was going").toBeDefined();
    process.kill(master as number, "SIGKILL");
    const killedAt = Date.now();
    // Until the run ends: no new master for this host (the run never reconnects).
    const masters = new Set<number>();
    let running = true;
    const watch = (async () => {
      while (running) {
        for (const pid of pgrep(`ControlMaster=yes.* ${A} `)) masters.add(pid);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const r = await run;
    running = false;
    await watch;
    const tail = Date.now() - killedAt;
    const output = `${r.stdout}\n${r.stderr}`;
    expect(r.exitCode, output).toBe(1);
    expect(
      [...masters].filter((p) => p !== master),
      "a master connection was opened again after the kill",
    ).toEqual([]);
    // Bounded by the probe timeout (commandMs, 10 s by default), not by a hang.
    expect(tail, output).toBeLessThan(30_000);
    const { readFleetReport } = await import("./fleet-helpers.ts");
    const rows = readFleetReport(path.join(REPO_ROOT, dir, "vitest-report.json"));
    const errors = rows.filter((x) => x.status === "error");
    expect(errors.length, output).toBeGreaterThan(0);
    // Each error blames the lost connection; a check that still passes was judged on facts read before the kill
    // (the unit's properties, the service's environment), never on a reconnect.
    for (const e of errors) expect(e.message, output).toMatch(new RegExp(`ssh to ${A}|ESSH`));
    // The host was reached before the kill: a lost connection, not an unreachable host.
    expect(
      rows.filter((x) => /could not be reached/.test(x.message)),
      output,
    ).toEqual([]);
    // Whatever order vitest runs the files in: files run one after another, so every file after the one in flight
    // at the kill started all its checks after it. Each such file has checks that must reach the host again (a
    // command, a request, a query), and those error. The kill comes early enough that such files exist.
    const files = [...new Map(rows.map((x) => [x.file, { start: x.fileStart, end: x.fileEnd }])).entries()].sort((a, b) => a[1].start - b[1].start);
    const inFlight = files.findIndex(([, f]) => f.end >= killedAt);
    const after = inFlight < 0 ? [] : files.slice(inFlight + 1).map(([name]) => name);
    expect(after.length, `files: ${JSON.stringify(files)}, killed at ${killedAt}`).toBeGreaterThan(0);
    for (const file of after) expect(rows.filter((x) => x.file === file && x.status === "error").length, `${file}: ${output}`).toBeGreaterThan(0);
  }, 300_000);

  test("an unreachable host, a wrong key, a host key mismatch and a sudo that wants a password each get one clear error", async () => {
    const stranger = makeKey(DIR, "stranger");
    const otherHostKey = makeKey(DIR, "other-host-key");
    const wrongKnown = path.join(DIR, "known_hosts.wrong");
    writeFileSync(wrongKnown, `${A} ${readFileSync(`${otherHostKey}.pub`, "utf8").split(" ").slice(0, 2).join(" ")}\n`);
    const bad = path.join(DIR, "bad.ini");
    writeFileSync(
      bad,
      [
        "[bad]",
        inventoryLine(fleet, A, { alias: "gone", pid: 2147480 }),
        inventoryLine(fleet, A, { alias: "wrongkey", key: stranger }),
        inventoryLine(fleet, A, { alias: "hostkey", knownHosts: wrongKnown }),
        inventoryLine(fleet, A, { alias: "needpw", user: "needpw", become: true }),
        "",
      ].join("\n"),
    );
    const started = performance.now();
    const r = await validateFleet(["specs/smoke"], { DEPLOY_INVENTORY: bad }, "fleet-bad-access");
    expect(r.exitCode, r.output).toBe(1);
    expect(performance.now() - started).toBeLessThan(60_000);
    const expected: Record<string, RegExp> = {
      gone: /nsenter: .*No such (file|process)/,
      wrongkey: /Permission denied \(publickey/,
      hostkey: /Host key verification failed/,
      needpw: new RegExp(`sudo on ${A} wants a password`),
    };
    for (const [host, why] of Object.entries(expected)) {
      const s = byStatus(r.rows, host);
      expect(s.error, `${host}: ${r.output}`).toHaveLength(1);
      expect(s.pass, host).toBeUndefined();
      expect(Object.keys(s).sort(), host).toEqual(["error", "skip"]);
      const err = r.rows.find((x) => x.target === host && x.status === "error");
      expect(err?.message, host).toMatch(new RegExp(`host ${host} could not be reached`));
      expect(err?.message, host).toMatch(why);
    }
  }, 300_000);
});
