import type { Config } from "../../config/schema.ts";
import { ProbeContext } from "../../probes/context.ts";
import { listenersOn } from "../../probes/process.ts";
import { unixListeners } from "../../probes/unix-sockets.ts";
import type { Transport } from "../../transport/types.ts";
import { allPids, describeProc, isProjectGunicorn, procInfo, waitGone, type ProcInfo } from "./procs.ts";

// Who holds a port (or a unix socket path) the service needs, and what we may do about it. `at`: "port 8000" or
// "unix socket /run/x.sock", as messages name it.
export type Holder =
  | { at: string; kind: "stale"; master: ProcInfo; workers: ProcInfo[] } // a hand-started Gunicorn of this project
  | { at: string; kind: "foreign"; proc?: ProcInfo; why: string }; // anything else: named, never killed

// Whether a process is a hand-started Gunicorn of this project: the venv's gunicorn, run from the project, and not
// inside some service unit (a scope of a login session or of `systemd-run --scope`, or no unit at all, is by hand).
export function isStaleGunicorn(p: ProcInfo, where: { venvDir: string; projectDir: string }): boolean {
  return isProjectGunicorn(p, where) && !p.unit?.endsWith(".service");
}

// The listeners on `ports` (the unit is stopped, so none of them is the unit's), each classified.
export async function portHolders(config: Config, t: Transport, ports: number[]): Promise<Holder[]> {
  const ctx = new ProbeContext(config, t);
  const out: Holder[] = [];
  for (const port of ports) await classify(config, t, `port ${port}`, await listenersOn(ctx, port), out);
  return out;
}

// The listeners on unix socket `paths` (a Gunicorn started by hand, still serving an older socket at that path),
// classified as port holders are.
export async function socketHolders(config: Config, t: Transport, paths: string[]): Promise<Holder[]> {
  const ctx = new ProbeContext(config, t);
  const out: Holder[] = [];
  const ls = await unixListeners(ctx, paths);
  for (const path of paths)
    await classify(
      config,
      t,
      `unix socket ${path}`,
      Object.assign(
        ls.filter((l) => l.path === path),
        { unreadable: ls.unreadable },
      ),
      out,
    );
  return out;
}

// Adds each holder of one address to `out`: a stale Gunicorn of this project (its master and workers), or a foreign one.
async function classify(config: Config, t: Transport, at: string, ls: Array<{ pid?: number }> & { unreadable: number }, out: Holder[]) {
  for (const pid of [...new Set(ls.map((l) => l.pid))]) {
    if (pid === undefined) {
      const why = `a listener on ${at} whose process could not be found${ls.unreadable ? ` (${ls.unreadable} processes' fds unreadable)` : ""}`;
      out.push({ at, kind: "foreign", why });
      continue;
    }
    const p = await procInfo(t, pid);
    if (!p) continue; // exited meanwhile
    if (!isStaleGunicorn(p, config)) {
      const why = isProjectGunicorn(p, config)
        ? `a Gunicorn of this project run by another unit (${p.unit}): stop that unit`
        : "not a Gunicorn of this project started from its venv";
      out.push({ at, kind: "foreign", proc: p, why });
      continue;
    }
    // Workers inherit the listening socket: climb to the master, then take its workers along.
    let master = p;
    for (let parent = await procInfo(t, master.ppid); parent && isStaleGunicorn(parent, config); parent = await procInfo(t, parent.ppid)) master = parent;
    if (out.some((h) => h.kind === "stale" && h.master.pid === master.pid)) continue;
    const workers: ProcInfo[] = [];
    for (const pid2 of await allPids(t)) {
      const c = await procInfo(t, pid2).catch(() => undefined);
      if (c && c.ppid === master.pid && isStaleGunicorn(c, config)) workers.push(c);
    }
    out.push({ at, kind: "stale", master, workers });
  }
}

// One line naming a holder.
export function describeHolder(h: Holder): string {
  if (h.kind === "stale")
    return `${h.at} is held by a Gunicorn of this project started by hand: master ${describeProc(h.master)} with ${h.workers.length} worker(s)`;
  return `${h.at} is held by ${h.proc ? describeProc(h.proc) : "an unknown process"}: ${h.why}`;
}

// Stops a stale Gunicorn: SIGTERM to its master (a graceful shutdown), SIGKILL to what is left after `graceMs`.
export async function stopStale(t: Transport, h: Extract<Holder, { kind: "stale" }>, graceMs: number): Promise<string> {
  const pids = [h.master.pid, ...h.workers.map((w) => w.pid)];
  await t.run(["kill", "-TERM", String(h.master.pid)]);
  let left = await waitGone(t, pids, graceMs);
  if (!left.length) return `stopped pid ${h.master.pid} and its ${h.workers.length} worker(s) with SIGTERM`;
  await t.run(["kill", "-KILL", ...left.map(String)]);
  left = await waitGone(t, left, 3000);
  if (left.length) throw new Error(`pid ${left.join(", ")} survived SIGKILL`);
  return `pid ${h.master.pid} did not stop within ${graceMs / 1000} s of SIGTERM: killed ${pids.length} process(es) with SIGKILL`;
}
