import type { ProbeContext } from "./context.ts";
import { serviceUnit } from "./systemd.ts";

// The TCP port a base URL points at (80/443 when the URL names none).
export function urlPort(url: string): number {
  const u = new URL(url);
  return Number(u.port || (u.protocol === "https:" ? 443 : 80));
}

// /proc/net/tcp6 holds four little-endian 32-bit words; shown as eight plain groups, e.g. [0:0:0:0:0:0:0:1].
function hexToIpv6(hex: string): string {
  const bytes = (hex.match(/../g) ?? []).map((b) => parseInt(b, 16));
  const ordered = [0, 4, 8, 12].flatMap((w) => bytes.slice(w, w + 4).reverse());
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push((((ordered[i] ?? 0) << 8) | (ordered[i + 1] ?? 0)).toString(16));
  return `[${groups.join(":")}]`;
}

export type Listener = { address: string; port: number; inode: string; pid?: number; comm?: string };

function hexToIpv4(hex: string): string {
  return [hex.slice(6, 8), hex.slice(4, 6), hex.slice(2, 4), hex.slice(0, 2)].map((b) => parseInt(b, 16)).join(".");
}

// Listening TCP sockets on `port` from /proc/net/tcp{,6}, each with the PID holding it (in-process, no ss/netstat).
export function listenersOn(ctx: ProbeContext, port: number): Promise<Listener[]> {
  return ctx.once(`proc:listen:${port}`, async () => {
    const t = ctx.transport;
    const found: Listener[] = [];
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
    const want = new Map(found.map((l) => [`socket:[${l.inode}]`, l]));
    // The unit's own processes first: on a healthy host that answers without scanning every process.
    const own = (await unitPids(ctx).catch(() => [] as number[])).map(String);
    const all = (await t.readDir("/proc")).filter((d) => /^\d+$/.test(d) && !own.includes(d));
    for (const pid of [...own, ...all]) {
      const fds = await t.readDir(`/proc/${pid}/fd`).catch(() => [] as string[]);
      for (const fd of fds) {
        const link = await t.readLink(`/proc/${pid}/fd/${fd}`);
        const l = link ? want.get(link) : undefined;
        if (l && l.pid === undefined) {
          l.pid = Number(pid);
          l.comm = (await t.readFile(`/proc/${pid}/comm`).catch(() => "?")).trim();
        }
      }
      if (found.every((l) => l.pid !== undefined)) break;
    }
    return found;
  });
}

// PIDs in the unit's cgroup (main process and workers), on unified or hybrid cgroup layouts.
export function unitPids(ctx: ProbeContext): Promise<number[]> {
  return ctx.once("proc:unitpids", async () => {
    const unit = await serviceUnit(ctx);
    if (unit.controlGroup) {
      for (const root of ["/sys/fs/cgroup", "/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd"]) {
        const text = await ctx.transport.readFile(`${root}${unit.controlGroup}/cgroup.procs`).catch(() => undefined);
        if (text !== undefined) return text.split("\n").filter(Boolean).map(Number);
      }
    }
    return unit.mainPid ? [unit.mainPid] : [];
  });
}

// Resident memory of every process of the unit, in MiB.
export function unitRssMb(ctx: ProbeContext): Promise<{ totalMb: number; processes: number }> {
  return ctx.once("proc:rss", async () => {
    const pids = await unitPids(ctx);
    if (!pids.length) throw new Error("the unit has no processes to measure");
    let kb = 0;
    for (const pid of pids) {
      const status = await ctx.transport.readFile(`/proc/${pid}/status`).catch(() => "");
      kb += Number(status.match(/^VmRSS:\s+(\d+)/m)?.[1] ?? 0);
    }
    return { totalMb: Math.round(kb / 1024), processes: pids.length };
  });
}

// Number of CPUs online on the host.
export function cpuCount(ctx: ProbeContext): Promise<number> {
  return ctx.once("proc:cpus", async () => {
    const text = await ctx.transport.readFile("/proc/cpuinfo");
    return text.split("\n").filter((l) => l.startsWith("processor")).length || 1;
  });
}
