import type { ProbeContext } from "./context.ts";
import { userDb } from "./files.ts";
import { cgroupPids } from "./process.ts";
import { parseStatus } from "./sandbox.ts";
import { showUnits } from "./systemd.ts";

// nginx's worker process as the kernel sees it (the master runs as root; the workers, which connect to upstreams,
// as the `user` of nginx.conf): uid, gid and supplementary groups from /proc/PID/status.
export type NginxWorker = { pid: number; uid: number; gid: number; groups: number[]; name: string };

// The first non-root process of the nginx unit, or undefined when nginx is not running or has no such process.
export function nginxWorker(ctx: ProbeContext): Promise<NginxWorker | undefined> {
  return ctx.once("nginx:worker", async () => {
    const name = ctx.config.dependencies.nginx;
    const u = name ? (await showUnits(ctx)).get(name) : undefined;
    if (!u?.mainPid) return undefined;
    const t = ctx.transport;
    // The cgroup lists every process; without it, the master's children are its workers.
    const children = () => t.readFile(`/proc/${u.mainPid}/task/${u.mainPid}/children`).catch(() => "");
    const pids = (await cgroupPids(ctx, u.controlGroup)) ?? (await children()).split(/\s+/).filter(Boolean).map(Number);
    for (const pid of pids) {
      const status = await t.readFile(`/proc/${pid}/status`).catch(() => "");
      if (!status) continue; // exited while we looked
      const ids = parseStatus(status);
      if (ids.uid !== 0) return { pid, ...ids, name: await userName(ctx, ids.uid) };
    }
    return undefined;
  });
}

// A uid's name from the run's one read of /etc/passwd (userDb), the number itself when it has none.
export async function userName(ctx: ProbeContext, uid: number): Promise<string> {
  const db = await userDb(ctx).catch(() => undefined);
  return db?.uidName.get(uid) ?? String(uid);
}

// What connect(2) to a unix socket answered when tried as `who`: "ok", or the errno's name (EACCES, ENOENT,
// ECONNREFUSED, ...). Tried as that user, so the socket's mode, its group, ACLs and every directory on the way count.
export async function connectAs(ctx: ProbeContext, who: { uid: number; gid: number; groups: number[] }, path: string): Promise<string> {
  const script =
    "import errno, socket, sys\n" +
    "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n" +
    "s.settimeout(3)\n" +
    "try:\n    s.connect(sys.argv[1]); print('ok')\n" +
    "except OSError as e:\n    print(errno.errorcode.get(e.errno, 'E%s' % e.errno) if e.errno else 'ETIMEDOUT')\n";
  const groups = who.groups.length ? [`--groups=${who.groups.join(",")}`] : ["--clear-groups"];
  const argv = ["setpriv", `--reuid=${who.uid}`, `--regid=${who.gid}`, ...groups, "--", "/usr/bin/python3", "-I", "-S", "-c", script, path];
  const r = await ctx.transport.run(argv, { cwd: "/", timeoutMs: 5_000 });
  const answer = r.stdout.trim();
  if (r.exitCode !== 0 || !/^(ok|E[A-Z0-9]+)$/.test(answer))
    throw new Error(`connect test as uid ${who.uid} exited ${r.exitCode}: ${(r.stderr || r.stdout).trim().split("\n").at(-1) ?? "no output"}`);
  return answer;
}
