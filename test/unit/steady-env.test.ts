import { describe, expect, test } from "vitest";
import { judgeSteadiness, serviceEnv } from "../../src/probes/environment.ts";
import { parseProcStat } from "../../src/probes/proc-stat.ts";
import { TransportError } from "../../src/transport/types.ts";
import { healthyCommands } from "./healthy-replay.ts";
import { recorded, replayContext, replayTransport } from "./replay.ts";

// Real facts recorded on reference hosts: a healthy unit (MainPID 70), and the app-import-error crash loop caught
// while systemd said active/running (MainPID 5082) and between restarts (activating/auto-restart, MainPID 0).
const healthyShow = recorded("systemctl-show-healthy.txt");
const loopRunning = recorded("systemctl-show-crash-loop-running.txt");
const loopRestart = recorded("systemctl-show-crash-loop-auto-restart.txt");
const statHealthy = recorded("proc-stat-healthy.txt");
const statLoop = recorded("proc-stat-crash-loop-running.txt");
const statZombie = recorded("proc-stat-zombie.txt").replace(/^123 /, "5082 ");
const environ = recorded("proc-environ-healthy.txt");
const pid1Environ = recorded("proc-environ-pid1.txt"); // PID 1 of a reference host: PATH, HOME, USER, no INVOCATION_ID
// The child systemd forked for the unit, renamed "(gunicorn)" until it execs: /proc/<pid>/stat shows "((gunicorn))".
const statForked = statLoop.replace("(gunicorn)", "((gunicorn))");
const ENV_FILE = "/etc/projectmeats/projectmeats.env";
const envFile = "DEBUG=False\nSECRET_KEY='from-the-env-file-0123456789-0123456789-0123456789'\nALLOWED_HOSTS=localhost,127.0.0.1\n";

type FileReply = string | Error | Array<string | Error>;
// A replay host whose files may answer differently on each read (a process dying between two reads of its stat).
function host(show: string, files: Record<string, FileReply>) {
  const t = replayTransport(healthyCommands(show));
  const reads = new Map<string, number>();
  t.readFile = async (p) => {
    const f = files[p];
    const n = reads.get(p) ?? 0;
    reads.set(p, n + 1);
    const r = Array.isArray(f) ? f[Math.min(n, f.length - 1)] : f;
    if (r === undefined) throw new TransportError(`cannot read ${p}: ENOENT`, "ENOENT");
    if (r instanceof Error) throw r;
    return r;
  };
  return replayContext(t);
}
const err = (code: string) => new TransportError(`cannot read: ${code}`, code);

describe("a dying process is not an environment", () => {
  test("a steady healthy process: its own environ", async () => {
    const e = await serviceEnv(host(healthyShow, { "/proc/70/stat": statHealthy, "/proc/70/environ": environ, [ENV_FILE]: envFile }));
    expect(e.source).toBe("the running process (PID 70)");
    expect(e.steady).toBe(true);
    expect(e.env.SECRET_KEY).toBe("recorded-key-replaced-by-a-fake-one-of-the-same-shape-0123456789abc");
  });

  test.each<[string, Record<string, FileReply>, RegExp]>([
    [
      "an empty environ (the exiting MainPID of the crash loop: SEC-002/003 false failures)",
      { "/proc/5082/stat": statLoop, "/proc/5082/environ": "" },
      /PID 5082 had an empty environ/,
    ],
    [
      "environ gone mid-read (ESRCH)",
      { "/proc/5082/stat": [statLoop, statZombie], "/proc/5082/environ": err("ESRCH") },
      /PID 5082 was exiting while we read it \(state Z\)/,
    ],
    [
      "environ gone mid-read (ENOENT), stat gone after",
      { "/proc/5082/stat": [statLoop, err("ENOENT")], "/proc/5082/environ": err("ENOENT") },
      /PID 5082 exited while we read it/,
    ],
    ["the PID already gone", { "/proc/5082/environ": environ }, /PID 5082 is gone/],
    ["a zombie", { "/proc/5082/stat": statZombie, "/proc/5082/environ": "" }, /PID 5082 is exiting \(state Z\)/],
    ["the process died after a full read", { "/proc/5082/stat": [statLoop, statZombie], "/proc/5082/environ": environ }, /exiting while we read it/],
    [
      "the PID reused by another process",
      { "/proc/5082/stat": [statLoop, statLoop.replace(" 59677 ", " 59999 ")], "/proc/5082/environ": environ },
      /replaced by another process/,
    ],
    [
      // Type=simple: systemd says active/running from the fork; until exec the child's environ is PID 1's (CI run on 404b6ac).
      "a child systemd forked but has not exec'd yet (PID 1's environ, PATH among the unit's variables)",
      { "/proc/5082/stat": statForked, "/proc/5082/environ": pid1Environ },
      /PID 5082 was still being started by systemd \(\(gunicorn\), not exec'd yet\)/,
    ],
    [
      "a child that exec'd while we read it (its environ may be either)",
      { "/proc/5082/stat": [statForked, statLoop], "/proc/5082/environ": pid1Environ },
      /still being started by systemd/,
    ],
    [
      "the environ of another invocation (the unit restarted between systemctl show and the read)",
      { "/proc/5082/stat": statLoop, "/proc/5082/environ": environ },
      /another invocation/,
    ],
    [
      "an environ with none of the unit's variables",
      { "/proc/5082/stat": statLoop, "/proc/5082/environ": "HOME=/\0TERM=dumb\0" },
      /holds none of the unit's variables/,
    ],
  ])("%s: the unit's env files, and source says why", async (_what, files, why) => {
    const e = await serviceEnv(host(loopRunning, { ...files, [ENV_FILE]: envFile }));
    expect(e.steady).toBe(false);
    expect(e.source).toMatch(/^the env files \/etc\/projectmeats\/projectmeats\.env \(/);
    expect(e.source).toMatch(why);
    expect(e.env).toMatchObject({
      SECRET_KEY: "from-the-env-file-0123456789-0123456789-0123456789",
      ALLOWED_HOSTS: "localhost,127.0.0.1",
      PYTHONPATH: "/opt/projectmeats/backend",
    });
  });

  test("between restarts (activating/auto-restart, MainPID 0): the env files, service not running", async () => {
    const e = await serviceEnv(host(loopRestart, { [ENV_FILE]: envFile }));
    expect(e.source).toBe("the env files /etc/projectmeats/projectmeats.env (service not running)");
    expect(e.env.ALLOWED_HOSTS).toBe("localhost,127.0.0.1");
  });

  test("a running process whose environ we may not read is an error, never a guess from the files", async () => {
    const p = serviceEnv(host(healthyShow, { "/proc/70/stat": statHealthy, "/proc/70/environ": err("EACCES"), [ENV_FILE]: envFile }));
    await expect(p).rejects.toThrow(/cannot read \/proc\/70\/environ of the running service: EACCES/);
  });

  test("a fallback whose env file cannot be read is an error", async () => {
    await expect(serviceEnv(host(loopRestart, { [ENV_FILE]: err("EACCES") }))).rejects.toThrow(/cannot read the unit's env files .*EACCES/);
  });

  test("judgeSteadiness wants systemd's active/running", () => {
    const look = { before: { state: "S", startTime: 1, comm: "a" }, after: { state: "S", startTime: 1, comm: "a" }, environ: "A=1\0" };
    expect(judgeSteadiness({ activeState: "active", subState: "running", mainPid: 9, invocationId: "" }, look, ["A"])).toEqual({ steady: true });
    expect(judgeSteadiness({ activeState: "deactivating", subState: "stop-sigterm", mainPid: 9, invocationId: "" }, look, ["A"])).toEqual({
      steady: false,
      reason: "the unit is deactivating/stop-sigterm",
    });
    expect(judgeSteadiness({ activeState: "active", subState: "running", mainPid: 9, invocationId: "" }, look, []).steady).toBe(true); // the unit defines nothing
  });

  test("/proc/<pid>/stat: name, state and start time (field 22), whatever the command name holds", () => {
    expect(parseProcStat(statHealthy)).toEqual({ state: "S", startTime: 38058, comm: "gunicorn" });
    expect(parseProcStat(recorded("proc-stat-zombie.txt"))).toMatchObject({ state: "Z", startTime: 90258 });
    expect(parseProcStat(statHealthy.replace("(gunicorn)", "(a) b (c)"))).toEqual({ state: "S", startTime: 38058, comm: "a) b (c" });
    expect(parseProcStat(statForked)?.comm).toBe("(gunicorn)");
    expect(parseProcStat("")).toBeUndefined();
  });
});
