import { describe, expect, test } from "vitest";
import { serviceChecks } from "../../src/checks/service.ts";
import { TransportError } from "../../src/transport/types.ts";
import { healthyCommands } from "./healthy-replay.ts";
import { recorded, replayContext, replayTransport } from "./replay.ts";

// SVC-003 judges a crash loop now, not systemd's NRestarts, which counts every automatic restart since the last
// manual start. Recorded facts: the app-import-error loop caught while systemd said active/running (NRestarts=19,
// MainPID 5082 started 596.77 s after boot) and between restarts (auto-restart); the healthy unit (NRestarts=0).
// /proc/uptime is the only value made up here: it places "now" a chosen number of seconds after that start.
const loopRunning = recorded("systemctl-show-crash-loop-running.txt");
const loopRestart = recorded("systemctl-show-crash-loop-auto-restart.txt");
const stat = recorded("proc-stat-crash-loop-running.txt");
const started = 596.77;
const check = serviceChecks.find((c) => c.id === "SVC-003")!;

// `watch: 0`: judged at once (the config's crashWatchSeconds), as these recorded moments are frozen in time.
function host(show: string, secondsSinceStart: number | undefined, config: Record<string, unknown> = { thresholds: { crashWatchSeconds: 0 } }) {
  const files: Record<string, string> = { "/proc/uptime": `${(started + (secondsSinceStart ?? 0)).toFixed(2)} 1000.00\n` };
  if (secondsSinceStart !== undefined) files["/proc/5082/stat"] = stat;
  return replayContext(replayTransport({ journalctl: { stdout: "" }, ...healthyCommands(show) }, files), config);
}

// The same host watched: each read of /proc/uptime is `step` seconds later; the main process ends after `reads` reads of its stat.
function watched(secondsSinceStart: number, step: number, reads = Number.POSITIVE_INFINITY) {
  const ctx = host(loopRunning, secondsSinceStart, {});
  const t = ctx.transport;
  let now = started + secondsSinceStart;
  let statReads = 0;
  const readFile = t.readFile.bind(t);
  t.readFile = async (p: string) => {
    if (p === "/proc/uptime") return `${(now += step) - step} 1000.00\n`;
    if (p === "/proc/5082/stat" && ++statReads > reads) throw new TransportError("cannot read /proc/5082/stat: ESRCH", "ESRCH");
    return readFile(p);
  };
  return ctx;
}

describe("SVC-003: crash-looping now", () => {
  test("19 restarts, running for 3 s: still looping, and it says when to look again", async () => {
    const v = await check.run(host(loopRunning, 3.2));
    expect(v.pass).toBe(false);
    expect(v.observed).toContain("NRestarts=19");
    expect(v.observed).toContain("current run 3 s old, under the 30 s a recovered run lasts");
    expect(v.retryInMs).toBeGreaterThan(26_000);
    expect(v.retryInMs).toBeLessThanOrEqual(27_000);
  });

  test("19 restarts, then running steadily for 2 minutes: recovered, with the count shown (the old rule failed it)", async () => {
    const v = await check.run(host(loopRunning, 120));
    expect(v.pass).toBe(true);
    expect(v.observed).toMatch(/NRestarts=19 .*19 automatic restarts since the last manual start, none in the last 30 s \(current run 120 s old\): recovered/);
  });

  test("a young run after a restart is watched: it passes once it has lasted the steadiness window (one transient failure)", async () => {
    const v = await check.run(watched(3.2, 15));
    expect(v.pass).toBe(true);
    expect(v.observed).toMatch(
      /19 automatic restarts since the last manual start, none in the last 30 s \(current run 33 s old, watched for 30 s\): recovered/,
    );
  });

  test("a young run that ends while watched is a crash loop, said at once", async () => {
    const v = await check.run(watched(3.2, 1, 2));
    expect(v.pass).toBe(false);
    expect(v.observed).toContain("its main process (5082) ended while watched, after 4 s or more of running");
    expect(v.retryInMs).toBeUndefined();
  });

  test("the steadiness window is the config's", async () => {
    const ctx = host(loopRunning, 45);
    const strict = replayContext(ctx.transport, { thresholds: { steadySeconds: 60, crashWatchSeconds: 0 } });
    expect((await check.run(ctx)).pass).toBe(true);
    const v = await check.run(strict);
    expect(v.pass).toBe(false);
    expect(v.retryInMs).toBe(15_000);
  });

  test("between restarts (auto-restart) it fails whatever the count, with nothing to wait for", async () => {
    const v = await check.run(host(loopRestart, undefined));
    expect(v.pass).toBe(false);
    expect(v.observed).toContain("waiting to be restarted");
    expect(v.retryInMs).toBeUndefined();
  });

  test("the main process gone while systemd still says running: looping, never judged steady", async () => {
    const v = await check.run(host(loopRunning, undefined));
    expect(v.pass).toBe(false);
    expect(v.observed).toContain("its main process (5082) is gone");
  });

  test("a healthy unit with no restarts passes without reading /proc", async () => {
    const t = replayTransport(healthyCommands(), {});
    const v = await check.run(replayContext(t));
    expect(v.pass).toBe(true);
    expect(v.observed).toContain("NRestarts=0");
  });
});
