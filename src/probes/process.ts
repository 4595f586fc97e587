import { parseProcStat } from "./proc-stat.ts";
import { TransportError } from "../transport/types.ts";
import type { ProbeContext } from "./context.ts";
import type { Transport } from "../transport/types.ts";
import { serviceUnit } from "./systemd.ts";

// /proc/net/tcp6 holds four little-endian 32-bit words; shown as eight plain groups, e.g. [0:0:0:0:0:0:0:1].
function hexToIpv6(hex: string): string {
  const bytes = (hex.match(/../g) ?? []).map((b) => parseInt(b, 16));
  const ordered = [0, 4, 8, 12].flatMap((w) => bytes.slice(w, w + 4).reverse());
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push((((ordered[i] ?? 0) << 8) | (ordered[i + 1] ?? 0)).toString(16));
  return `[${groups.join(":")}]`;
}

export type Listener = { address: string; port: number; inode: string; pid?: number; comm?: string };

// The listeners, plus how many processes' /proc/<pid>/fd could not be read (EACCES/EPERM) while looking for owners:
// when a listener has no pid and `unreadable` > 0, its owner may be one of those, so nobody can tell.
export type Listeners = Listener[] & { unreadable: number };

function hexToIpv4(hex: string): string {
  return [hex.slice(6, 8), hex.slice(4, 6), hex.slice(2, 4), hex.slice(0, 2)].map((b) => parseInt(b, 16)).join(".");
}

// Listening TCP sockets on `port` from /proc/net/tcp{,6}, each with the PID holding it (in-process, no ss/netstat).
// A listener whose holder was not found keeps pid undefined; `unreadable` counts fd directories we could not read.
export function listenersOn(ctx: ProbeContext, port: number): Promise<Listeners> {
  return ctx.once(`proc:listen:${port}`, async () => {
    const t = ctx.transport;
    const found = Object.assign([] as Listener[], { unreadable: 0 });
    for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
      // tcp6 may be absent (IPv6 disabled); tcp itself must be readable or we cannot look.
      const text = await t.readFile(file).catch((err: unknown) => {
        if (file === "/proc/net/tcp") throw err;
        return "";
      });
      for (const line of text.split("\n").slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f[3] !== "0A") continue; // 0A = LISTEN
        const [addr, portHex] = (f[1] ?? "").split(":");
        if (parseInt(portHex ?? "", 16) !== port) continue;
        found.push({ address: addr?.length === 8 ? hexToIpv4(addr) : hexToIpv6(addr ?? ""), port, inode: f[9] ?? "" });
      }
    }
    if (!found.length) return found;
    await findHolders(ctx, found);
    return found;
  });
}

// Fills in `pid` and `comm` of each socket from the /proc/<pid>/fd links that point at its inode, the unit's own
// processes first (on a healthy host that answers without scanning every process). Counts in `unreadable` the fd
// directories we may not read (one of them could be the holder); a process that exited meanwhile is not a holder.
export async function findHolders(ctx: ProbeContext, found: Array<{ inode: string; pid?: number; comm?: string }> & { unreadable: number }) {
  const t = ctx.transport;
  const want = new Map(found.map((l) => [`socket:[${l.inode}]`, l]));
  const own = (await unitPids(ctx).catch(() => [] as number[])).map(String);
  const all = (await t.readDir("/proc")).filter((d) => /^\d+$/.test(d) && !own.includes(d));
  // The links of one process's fds, read together (over ssh, one exchange instead of one per fd).
  const linksOf = async (pid: string): Promise<Array<string | undefined>> => {
    const fds = await t.readDir(`/proc/${pid}/fd`).catch((err: unknown) => {
      const code = err instanceof TransportError ? err.code : undefined;
      if (code === "ENOENT" || code === "ESRCH") return [] as string[];
      if (code === "EACCES" || code === "EPERM") {
        found.unreadable++;
        return [] as string[];
      }
      throw err;
    });
    return Promise.all(fds.map((fd) => t.readLink(`/proc/${pid}/fd/${fd}`)));
  };
  // The unit's processes together, then the others 32 at a time; holders are assigned in list order (the first
  // process of the unit, its main one, over a worker sharing the socket), whatever order the answers come in.
  const groups = [own, ...Array.from({ length: Math.ceil(all.length / 32) }, (_, i) => all.slice(i * 32, i * 32 + 32))];
  for (const group of groups) {
    const links = await Promise.all(group.map(linksOf));
    for (const [i, pid] of group.entries()) {
      for (const link of links[i] ?? []) {
        const l = link ? want.get(link) : undefined;
        if (l && l.pid === undefined) {
          l.pid = Number(pid);
          l.comm = (await t.readFile(`/proc/${pid}/comm`).catch(() => "?")).trim();
        }
      }
    }
    if (found.every((l) => l.pid !== undefined)) break;
  }
}

// PIDs in the unit's cgroup (main process and workers), on unified or hybrid cgroup layouts.
export function unitPids(ctx: ProbeContext): Promise<number[]> {
  return ctx.once("proc:unitpids", async () => {
    const unit = await serviceUnit(ctx);
    return (await cgroupPids(ctx, unit.controlGroup)) ?? (unit.mainPid ? [unit.mainPid] : []);
  });
}

// PIDs in one cgroup (systemd's ControlGroup= of a unit), or undefined when no layout lets us read it.
export function cgroupPids(ctx: ProbeContext, controlGroup: string): Promise<number[] | undefined> {
  return readCgroupPids(ctx.transport, controlGroup);
}

// cgroup.procs of `controlGroup` on unified or hybrid layouts, through any transport (emergency playbooks use it too).
export async function readCgroupPids(t: Transport, controlGroup: string): Promise<number[] | undefined> {
  if (!controlGroup) return undefined;
  for (const root of ["/sys/fs/cgroup", "/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd"]) {
    const text = await t.readFile(`${root}${controlGroup}/cgroup.procs`).catch(() => undefined);
    // 0: a process outside our PID namespace, which we cannot read.
    if (text !== undefined)
      return text
        .split("\n")
        .filter(Boolean)
        .map(Number)
        .filter((p) => p > 0);
  }
  return undefined;
}

// Resident memory of every process of the unit, in MiB. A process that exits while measured (ENOENT) is skipped and
// counted in `vanished`; any other unreadable /proc/<pid>/status is an error, and so is measuring no process at all.
export function unitRssMb(ctx: ProbeContext): Promise<{ totalMb: number; processes: number; vanished: number }> {
  return ctx.once("proc:rss", async () => {
    const pids = await unitPids(ctx);
    if (!pids.length) throw new Error("the unit has no processes to measure");
    let kb = 0;
    let vanished = 0;
    for (const pid of pids) {
      let status: string;
      try {
        status = await ctx.transport.readFile(`/proc/${pid}/status`);
      } catch (err) {
        if (err instanceof TransportError && (err.code === "ENOENT" || err.code === "ESRCH")) {
          vanished++;
          continue;
        }
        throw err;
      }
      const rss = status.match(/^VmRSS:\s+(\d+) kB/m)?.[1];
      // A zombie has released its memory and has no VmRSS line; any other process without one is not understood.
      if (rss === undefined && !/^State:\s+Z/m.test(status)) throw new Error(`/proc/${pid}/status has no VmRSS line`);
      kb += Number(rss ?? 0);
    }
    const processes = pids.length - vanished;
    if (!processes) throw new Error(`all ${pids.length} processes of the unit exited while being measured`);
    return { totalMb: Math.round(kb / 1024), processes, vanished };
  });
}

// Counts the CPUs in a list like "0-3,8,10-11" (Cpus_allowed_list, cpuset.cpus).
export function countCpuList(list: string): number {
  let n = 0;
  for (const part of list.trim().split(",").filter(Boolean)) {
    const m = part.match(/^(\d+)(?:-(\d+))?$/);
    if (!m) throw new Error(`cannot read the CPU list ${JSON.stringify(list.trim())}`);
    n += m[2] === undefined ? 1 : Number(m[2]) - Number(m[1]) + 1;
  }
  if (!n) throw new Error(`empty CPU list ${JSON.stringify(list.trim())}`);
  return n;
}

// CPUs a cgroup v2 cpu.max ("50000 100000", "max 100000") allows; undefined when unlimited.
export function parseCpuMax(text: string): number | undefined {
  const [quota, period] = text.trim().split(/\s+/);
  if (quota === "max") return undefined;
  const q = Number(quota);
  const p = Number(period ?? 100000);
  if (!Number.isFinite(q) || !Number.isFinite(p) || q <= 0 || p <= 0) throw new Error(`cannot read cpu.max ${JSON.stringify(text.trim())}`);
  return q / p;
}

// A file's text, or undefined when it is absent (codes: ESRCH too for /proc/<pid> of a process that is exiting).
async function readOptional(ctx: ProbeContext, path: string, codes = ["ENOENT"]): Promise<string | undefined> {
  try {
    return await ctx.transport.readFile(path);
  } catch (err) {
    if (err instanceof TransportError && codes.includes(err.code ?? "")) return undefined;
    throw err;
  }
}

// The tightest CPU quota on the unit's cgroup or any ancestor (v2 cpu.max, or v1 cfs quota), with where it was read.
async function cgroupQuota(ctx: ProbeContext, controlGroup: string): Promise<{ cpus: number; where: string } | undefined> {
  let best: { cpus: number; where: string } | undefined;
  const consider = (cpus: number | undefined, where: string) => {
    if (cpus !== undefined && (!best || cpus < best.cpus)) best = { cpus, where };
  };
  for (let cg = controlGroup; cg && cg !== "/"; cg = cg.slice(0, cg.lastIndexOf("/")) || "/") {
    for (const root of ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]) {
      const max = await readOptional(ctx, `${root}${cg}/cpu.max`);
      if (max !== undefined) consider(parseCpuMax(max), `cpu.max of ${cg} (${max.trim()})`);
    }
    for (const root of ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"]) {
      const quota = await readOptional(ctx, `${root}${cg}/cpu.cfs_quota_us`);
      if (quota === undefined || Number(quota) <= 0) continue; // -1: unlimited
      const period = Number(await ctx.transport.readFile(`${root}${cg}/cpu.cfs_period_us`));
      consider(Number(quota) / period, `cpu.cfs_quota_us of ${cg} (${quota.trim()}/${period})`);
    }
  }
  return best;
}

export type CpuLimit = { cpus: number; source: string };

// CPUs the service can use: its main process's affinity (else, when it is down, PID 1's, which services inherit),
// capped by the CPU quota of its cgroup and ancestors and by the unit's CPUQuota=. `source` says what was read.
export function cpuLimit(ctx: ProbeContext): Promise<CpuLimit> {
  return ctx.once("proc:cpulimit", async () => {
    const unit = await serviceUnit(ctx);
    let status = unit.mainPid > 0 ? await readOptional(ctx, `/proc/${unit.mainPid}/status`, ["ENOENT", "ESRCH"]) : undefined;
    const running = status !== undefined;
    const who = running ? `the service's PID ${unit.mainPid}` : "PID 1 (the service is not running)";
    status ??= await ctx.transport.readFile("/proc/1/status");
    const list = status.match(/^Cpus_allowed_list:\s*(\S+)/m)?.[1];
    if (!list) throw new Error(`no Cpus_allowed_list in the status of ${who}`);
    let cpus = countCpuList(list);
    const sources = [`affinity of ${who}: ${list}`];
    const cg = running && unit.controlGroup ? await cgroupQuota(ctx, unit.controlGroup) : undefined;
    if (cg && cg.cpus < cpus) {
      cpus = cg.cpus;
      sources.push(`quota ${cg.where}`);
    }
    if (unit.cpuQuota !== undefined && unit.cpuQuota < cpus) {
      cpus = unit.cpuQuota;
      sources.push(`the unit's CPUQuota=${Math.round(unit.cpuQuota * 100)}%`);
    }
    return { cpus, source: sources.join(", capped by ") };
  });
}

// Number of CPUs the service can use (see cpuLimit), possibly fractional under a quota (0.5 for CPUQuota=50%).
export async function cpuCount(ctx: ProbeContext): Promise<number> {
  return (await cpuLimit(ctx)).cpus;
}

// Linux reports process start times in clock ticks of USER_HZ, 100 on every architecture Debian ships.
const USER_HZ = 100;

// Seconds since `pid` started, from /proc/<pid>/stat and /proc/uptime (both counted from boot, so they agree even
// when the controller's clock differs from the host's); undefined when the process is gone or exiting.
export async function processAgeSeconds(ctx: ProbeContext, pid: number): Promise<number | undefined> {
  if (pid <= 0) return undefined;
  const [text, uptime] = await Promise.all([readOptional(ctx, `/proc/${pid}/stat`, ["ENOENT", "ESRCH"]), ctx.transport.readFile("/proc/uptime")]);
  if (text === undefined) return undefined;
  const stat = parseProcStat(text);
  const up = Number(uptime.split(" ")[0]);
  if (!stat || !uptime.trim() || !Number.isFinite(up))
    throw new Error(
      `cannot read a start time from /proc/${pid}/stat and /proc/uptime: ${JSON.stringify(text.slice(0, 60))}, ${JSON.stringify(uptime.slice(0, 30))}`,
    );
  if (stat.state === "Z" || stat.state === "X") return undefined;
  return Math.max(0, up - stat.startTime / USER_HZ);
}
