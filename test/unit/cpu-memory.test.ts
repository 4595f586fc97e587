import { describe, expect, test } from "vitest";
import { checkById } from "../../src/checks/index.ts";
import { countCpuList, cpuCount, cpuLimit, parseCpuMax, processAgeSeconds, unitRssMb } from "../../src/probes/process.ts";
import { TransportError, type Transport } from "../../src/transport/types.ts";
import { healthyCommands } from "./healthy-replay.ts";
import { recorded, replayContext, replayTransport } from "./replay.ts";

const master = recorded("proc-status-gunicorn-master.txt"); // VmRSS 28884 kB, Cpus_allowed_list 0-1
const pid1 = recorded("proc-status-pid1.txt");
const CG = "/sys/fs/cgroup/unified/system.slice/projectmeats.service";
const show = recorded("systemctl-show-healthy.txt"); // MainPID=70, CPUQuotaPerSecUSec not shown (unlimited)

// A replay transport whose readFile throws the given errno for some paths.
function withErrors(t: Transport, errors: Record<string, string>): Transport {
  const read = t.readFile.bind(t);
  t.readFile = async (p) => {
    const code = errors[p];
    if (code) throw new TransportError(`cannot read ${p}: ${code}`, code);
    return read(p);
  };
  return t;
}

describe("PERF-002's unitRssMb", () => {
  // The recorded cgroup.procs lists 162 (master), 173-175 (workers) and zeros for processes outside our PID namespace.
  const files = {
    [`${CG}/cgroup.procs`]: recorded("cgroup-procs-projectmeats.txt"),
    "/proc/162/status": master,
    "/proc/173/status": master,
    "/proc/174/status": master,
    "/proc/175/status": master,
  };

  test("sums VmRSS of the unit's processes, skipping PID 0 entries", async () => {
    const t = replayTransport(healthyCommands(), files);
    expect(await unitRssMb(replayContext(t))).toEqual({ totalMb: Math.round((4 * 28884) / 1024), processes: 4, vanished: 0 });
  });

  test("a process that exited while measured (ENOENT) is skipped and counted", async () => {
    const { "/proc/175/status": _, ...rest } = files;
    expect(await unitRssMb(replayContext(replayTransport(healthyCommands(), rest)))).toEqual({
      totalMb: Math.round((3 * 28884) / 1024),
      processes: 3,
      vanished: 1,
    });
  });

  test("any other unreadable status is an error, never 0 kB", async () => {
    const ctx = replayContext(withErrors(replayTransport(healthyCommands(), files), { "/proc/174/status": "EACCES" }));
    await expect(unitRssMb(ctx)).rejects.toMatchObject({ code: "EACCES" });
    const verdict = checkById("PERF-002").run(ctx);
    await expect(verdict).rejects.toThrow(/EACCES/); // the check errors: it could not look
  });

  test("no process measured is an error", async () => {
    const gone = { [`${CG}/cgroup.procs`]: "173\n174\n" };
    await expect(unitRssMb(replayContext(replayTransport(healthyCommands(), gone)))).rejects.toThrow("all 2 processes of the unit exited while being measured");
    const idle = show.replace("MainPID=70", "MainPID=0").replace("ControlGroup=/system.slice/projectmeats.service", "ControlGroup=");
    await expect(unitRssMb(replayContext(replayTransport(healthyCommands(idle))))).rejects.toThrow("the unit has no processes to measure");
  });

  test("a status without VmRSS is a zombie (0 kB) or an error", async () => {
    const zombie = master.replace(/^VmRSS:.*\n/m, "").replace(/^State:.*$/m, "State:\tZ (zombie)");
    const t = replayTransport(healthyCommands(), { ...files, "/proc/175/status": zombie });
    expect((await unitRssMb(replayContext(t))).processes).toBe(4);
    const odd = replayTransport(healthyCommands(), { ...files, "/proc/175/status": master.replace(/^VmRSS:.*\n/m, "") });
    await expect(unitRssMb(replayContext(odd))).rejects.toThrow("/proc/175/status has no VmRSS line");
  });
});

describe("CPUs the service can use", () => {
  test("CPU lists and cpu.max", () => {
    expect(countCpuList("0-1")).toBe(2);
    expect(countCpuList("0-3,8,10-11\n")).toBe(7);
    expect(() => countCpuList("")).toThrow();
    expect(parseCpuMax("max 100000\n")).toBeUndefined();
    expect(parseCpuMax("50000 100000\n")).toBe(0.5);
    expect(parseCpuMax("150000 100000")).toBe(1.5);
  });

  test("the running service's affinity, not /proc/cpuinfo", async () => {
    const pinned = master.replace("Cpus_allowed_list:\t0-1", "Cpus_allowed_list:\t1");
    const t = replayTransport(healthyCommands(), { "/proc/70/status": pinned, "/proc/cpuinfo": "processor\t: 0\nprocessor\t: 1\nprocessor\t: 2\n" });
    expect(await cpuLimit(replayContext(t))).toEqual({ cpus: 1, source: "affinity of the service's PID 70: 1" });
    expect(t.calls.flat()).not.toContain("/proc/cpuinfo");
  });

  test("the unit's cgroup quota (cgroup v2 cpu.max, the tightest up the tree) caps it", async () => {
    const t = replayTransport(healthyCommands(), {
      "/proc/70/status": master,
      "/sys/fs/cgroup/system.slice/projectmeats.service/cpu.max": "50000 100000\n",
      "/sys/fs/cgroup/system.slice/cpu.max": "max 100000\n",
    });
    const ctx = replayContext(t);
    expect(await cpuLimit(ctx)).toEqual({
      cpus: 0.5,
      source: "affinity of the service's PID 70: 0-1, capped by quota cpu.max of /system.slice/projectmeats.service (50000 100000)",
    });
    expect(await cpuCount(ctx)).toBe(0.5);
  });

  test("cgroup v1 cfs quota on a parent slice", async () => {
    const t = replayTransport(healthyCommands(), {
      "/proc/70/status": master,
      "/sys/fs/cgroup/cpu/system.slice/projectmeats.service/cpu.cfs_quota_us": "-1\n",
      "/sys/fs/cgroup/cpu/system.slice/cpu.cfs_quota_us": "100000\n",
      "/sys/fs/cgroup/cpu/system.slice/cpu.cfs_period_us": "100000\n",
    });
    expect(await cpuLimit(replayContext(t))).toMatchObject({ cpus: 1, source: expect.stringContaining("cpu.cfs_quota_us of /system.slice (100000/100000)") });
  });

  test("the unit's CPUQuota= counts even where the cgroup has no cpu controller (nspawn hosts)", async () => {
    const quoted = show.replace("ControlGroup=/system.slice/projectmeats.service", "ControlGroup=/system.slice/projectmeats.service\nCPUQuotaPerSecUSec=500ms");
    const t = replayTransport(healthyCommands(quoted), { "/proc/70/status": master });
    expect(await cpuLimit(replayContext(t))).toEqual({ cpus: 0.5, source: "affinity of the service's PID 70: 0-1, capped by the unit's CPUQuota=50%" });
  });

  test("the service down: PID 1's affinity, and the result says so", async () => {
    const down = show.replace("MainPID=70", "MainPID=0");
    const t = replayTransport(healthyCommands(down), { "/proc/1/status": pid1 });
    expect(await cpuLimit(replayContext(t))).toEqual({ cpus: 2, source: "affinity of PID 1 (the service is not running): 0-1" });
    // MainPID set but the process gone meanwhile: the same fallback
    expect((await cpuLimit(replayContext(replayTransport(healthyCommands(), { "/proc/1/status": pid1 })))).source).toContain(
      "PID 1 (the service is not running)",
    );
  });

  test("an unreadable status is an error", async () => {
    const t = withErrors(replayTransport(healthyCommands(), {}), { "/proc/70/status": "EACCES" });
    await expect(cpuLimit(replayContext(t))).rejects.toMatchObject({ code: "EACCES" });
  });
});

describe("a main process that is exiting (its /proc entry answers ESRCH)", () => {
  test("cpuLimit falls back to PID 1, as for a process already gone", async () => {
    const t = withErrors(replayTransport(healthyCommands(), { "/proc/1/status": pid1 }), { "/proc/70/status": "ESRCH" });
    expect((await cpuLimit(replayContext(t))).source).toContain("PID 1 (the service is not running)");
  });

  test("processAgeSeconds says gone (undefined), never an error: SVC-003 then judges the unit, not the read", async () => {
    const t = withErrors(replayTransport(healthyCommands(), { "/proc/uptime": "100.0 50.0\n" }), { "/proc/70/stat": "ESRCH" });
    expect(await processAgeSeconds(replayContext(t), 70)).toBeUndefined();
    const denied = withErrors(replayTransport(healthyCommands(), { "/proc/uptime": "100.0 50.0\n" }), { "/proc/70/stat": "EACCES" });
    await expect(processAgeSeconds(replayContext(denied), 70)).rejects.toMatchObject({ code: "EACCES" });
  });
});
