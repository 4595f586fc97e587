import { TransportError } from "../transport/types.ts";
import type { ProbeContext } from "./context.ts";
import { unitPids } from "./process.ts";

export type UnixListener = { path: string; inode: string; pid?: number; comm?: string };

// Listening unix stream sockets at `paths` from /proc/net/unix (flag __SO_ACCEPTCON), each with the PID holding it.
// A listener whose holder was not found keeps pid undefined; `unreadable` counts fd directories we could not read.
export function unixListeners(ctx: ProbeContext, paths: string[]): Promise<UnixListener[] & { unreadable: number }> {
  return ctx.once(`proc:unix:${paths.join(",")}`, async () => {
    const t = ctx.transport;
    const found = Object.assign([] as UnixListener[], { unreadable: 0 });
    for (const line of (await t.readFile("/proc/net/unix")).split("\n").slice(1)) {
      const f = line.trim().split(/\s+/); // Num RefCount Protocol Flags Type St Inode Path
      if (f.length < 8 || !(parseInt(f[3] ?? "0", 16) & 0x10000)) continue;
      if (paths.includes(f[7] as string)) found.push({ path: f[7] as string, inode: f[6] as string });
    }
    if (!found.length) return found;
    const want = new Map(found.map((l) => [`socket:[${l.inode}]`, l]));
    const own = (await unitPids(ctx).catch(() => [] as number[])).map(String);
    const all = (await t.readDir("/proc")).filter((d) => /^\d+$/.test(d) && !own.includes(d));
    for (const pid of [...own, ...all]) {
      const fds = await t.readDir(`/proc/${pid}/fd`).catch((err: unknown) => {
        const code = err instanceof TransportError ? err.code : undefined;
        if (code === "EACCES" || code === "EPERM") found.unreadable++;
        else if (code !== "ENOENT" && code !== "ESRCH") throw err;
        return [] as string[];
      });
      for (const fd of fds) {
        const l = want.get((await t.readLink(`/proc/${pid}/fd/${fd}`)) ?? "");
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
