import type { ProbeContext } from "./context.ts";
import { findHolders } from "./process.ts";

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
    await findHolders(ctx, found);
    return found;
  });
}
