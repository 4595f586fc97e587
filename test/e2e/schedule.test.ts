import { execFileSync, spawnSync } from "node:child_process";
import { afterAll, beforeAll, expect, test } from "vitest";
import { REPO_ROOT } from "../../fixtures/host/paths.ts";
import { describeE2E } from "./e2e.ts";
import { hostCli } from "./hosts.ts";

// `npm run schedule`: on a reference host the timer runs the gate (twice, every 10 s), each run writes the Prometheus
// textfile (checked with promtool's own parser) and a point of the report's history, --on-failure fires when the site
// breaks, and uninstall leaves /etc/systemd/system as it was, byte for byte (names, types, modes, owners, links, content).
const NAME = "e2e-sched";
const TEXTFILE = "/var/lib/prometheus/node-exporter/ddv_smoke.prom";
const HISTORY = "/var/lib/ddv/gate/reports/allure-history.jsonl";
const KEPT = "/var/lib/ddv/gate/reports/allure-runs";
// What the operator's command is given: % and $ and quotes reach the shell as typed.
const ON_FAILURE = `echo "$DDV_GATE $MONITOR_SERVICE_RESULT exit=$MONITOR_EXIT_STATUS 100%" >> /run/ddv-red`;
// Every entry of /etc/systemd/system with its type, mode, owner, link target and content hash.
const LISTING = `cd /etc/systemd/system && find . -printf '%p %y %m %U:%G %l ' -exec sh -c 'if [ -f "$1" ] && [ ! -L "$1" ]; then sha256sum < "$1"; else echo; fi' sh {} \\; | sort`;

const sh = (script: string, ...args: string[]) => hostCli(["exec", NAME, "--", "sh", "-c", script, "sh", ...args], { timeoutMs: 240_000 });
const schedule = (...args: string[]) => sh('cd "$1" && shift && exec node_modules/.bin/tsx scripts/schedule.ts "$@" </dev/null', REPO_ROOT, ...args);
const promtool = spawnSync("sh", ["-c", "command -v promtool"]).status === 0;

// Polls `probe` until it returns something, or fails after `seconds` saying what it waited for.
async function until<T>(what: string, seconds: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`waited ${seconds} s for ${what}`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}
const finishedRuns = async () =>
  Number((await sh("journalctl -u ddv-gate.service --no-pager | grep -c 'ddv-gate.service: Deactivated successfully'")).stdout.trim() || 0);
const textfile = async () => (await sh(`cat ${TEXTFILE} 2>/dev/null`)).stdout;

describeE2E("the gate on a timer", () => {
  let before = "";
  beforeAll(async () => {
    const up = await hostCli(["up", "--name", NAME], { timeoutMs: 600_000 });
    expect(up.exitCode, up.stderr).toBe(0);
    // node_exporter's textfile directory, as Debian's prometheus-node-exporter makes it.
    expect((await sh("mkdir -p /var/lib/prometheus/node-exporter")).exitCode).toBe(0);
    before = (await sh(LISTING)).stdout;
  }, 700_000);
  afterAll(async () => {
    expect((await hostCli(["down", NAME], { timeoutMs: 300_000 })).exitCode).toBe(0);
  });

  test("install: the timer runs the green gate at least twice; textfile and history follow every run", { timeout: 400_000 }, async () => {
    const i = await schedule("install", "--every", "10s", "--on-failure", ON_FAILURE);
    expect(i.exitCode, `${i.stdout}\n${i.stderr}`).toBe(0);
    expect(i.stdout).toContain("installed: ddv-gate.timer runs the smoke gate every 10s");
    await until("two gate runs from the timer", 180, async () => ((await finishedRuns()) >= 2 ? true : undefined));
    const text = await textfile();
    expect(text).toMatch(/^ddv_failures\{scope="smoke"\} 0$/m);
    expect(text).toMatch(/^ddv_check_status\{scope="smoke",id="SVC-001",severity="critical",status="pass"\} 1$/m);
    expect(text.match(/^ddv_check_status\{/gm)?.length).toBeGreaterThanOrEqual(20);
    expect(text).toMatch(/^ddv_run_timestamp_seconds\{scope="smoke"\} \d+(\.\d+)?$/m);
    expect(text).toMatch(/^ddv_run_duration_seconds\{scope="smoke"\} \d+(\.\d+)?$/m);
    // promtool's own text-format parser and linter (Debian's prometheus package on this machine; .ci/run installs it).
    // The file's last newline, which the captured output drops, is put back: the format requires it.
    expect(promtool, "promtool is missing: apt-get install prometheus (.ci/run does)").toBe(true);
    expect(execFileSync("promtool", ["check", "metrics"], { input: `${text}\n`, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] })).toBe("");
    // Each run kept its results for the report's history (a report build turns them into points).
    const kept = (await sh(`ls ${KEPT} | grep -vc partial`)).stdout.trim();
    expect(Number(kept)).toBeGreaterThanOrEqual(2);
    const st = await schedule("status");
    expect(st.exitCode).toBe(0);
    expect(st.stdout).toMatch(/every 10s .*on failure: \/var\/lib\/ddv\/schedule\/on-failure\.sh/);
    // The command (it may hold a token) is in root's 0700 script only: no unit, nothing systemctl shows, no output.
    expect((await sh("stat -c '%a %U' /var/lib/ddv/schedule/on-failure.sh")).stdout).toBe("700 root");
    expect((await sh("grep -rl MONITOR_EXIT_STATUS /etc/systemd/system; systemctl show ddv-gate-failed.service | grep -c MONITOR_EXIT")).stdout).toBe("0");
    expect(`${i.stdout}${i.stderr}${st.stdout}`).not.toContain("MONITOR_EXIT_STATUS");
    expect(st.stdout).toContain("ddv-gate.timer: active, enabled");
  });

  test("bad input: one line and its own exit code, nothing changed", async () => {
    const again = await schedule("install");
    expect([again.exitCode, again.stderr]).toEqual([73, expect.stringMatching(/^schedule: already installed .*run uninstall first$/)]);
    const fast = await schedule("install", "--every", "5s");
    expect(fast.exitCode).toBe(64);
    expect(fast.stderr.split("\n")[0]).toBe("schedule: --every 5s is shorter than 10 s: the gate itself takes a few seconds");
  });

  test("--on-failure fires when the site breaks, told how the gate ended; the textfile turns red", { timeout: 300_000 }, async () => {
    expect((await sh("systemctl stop projectmeats")).exitCode).toBe(0);
    const red = await until("the failure command", 120, async () => (await sh("cat /run/ddv-red 2>/dev/null")).stdout.trim() || undefined);
    expect(red.split("\n")[0]).toBe("red exit-code exit=1 100%");
    const text = await until("a red textfile", 60, async () => {
      const t = await textfile();
      return /^ddv_failures\{scope="smoke"\} [1-9]/m.test(t) ? t : undefined;
    });
    expect(text).toMatch(/^ddv_check_status\{scope="smoke",id="SVC-001",severity="critical",status="fail"\} 0$/m);
    // The history shows when SVC-001 went red: passed in the first runs, failed in the last (the timer stopped, the
    // kept runs folded into points as `npm run report` does).
    expect(
      (await sh('systemctl stop ddv-gate.timer; while [ "$(systemctl show -p ActiveState --value ddv-gate.service)" = activating ]; do sleep 0.2; done'))
        .exitCode,
    ).toBe(0);
    const fold = `import("./src/report/allure-runs.ts").then((m) => m.foldKeptRuns("${HISTORY}")).then((n) => console.log(n))`;
    const folded = await sh('cd "$1" && node_modules/.bin/tsx -e "$2"', REPO_ROOT, fold);
    expect(Number(folded.stdout.trim()), folded.stderr).toBeGreaterThanOrEqual(3);
    const svc = (await sh(`grep -o '"name":"SVC-001[^"]*"[^}]*"status":"[a-z]*"' ${HISTORY} | grep -o '"status":"[a-z]*"'`)).stdout.trim().split("\n");
    expect(svc[0]).toBe('"status":"passed"');
    expect(svc.at(-1)).toBe('"status":"failed"');
  });

  test("uninstall: /etc/systemd/system byte-identical to before install, no ddv unit left", { timeout: 200_000 }, async () => {
    const u = await schedule("uninstall");
    expect(u.exitCode, `${u.stdout}\n${u.stderr}`).toBe(0);
    expect((await sh(LISTING)).stdout).toBe(before);
    expect((await sh("systemctl list-units --all --plain --no-legend 'ddv-*'")).stdout.trim()).toBe("");
    expect((await schedule("status")).exitCode).toBe(69);
    expect((await schedule("uninstall")).exitCode).toBe(69);
  });
});
