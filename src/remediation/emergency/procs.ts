import { TransportError, type Transport } from "../../transport/types.ts";
import { parseProcCgroup, unitOfCgroup } from "./cgroup.ts";

// What we know of one process: enough to say who it is and to decide whether it is ours to stop.
export type ProcInfo = { pid: number; ppid: number; argv: string[]; cwd?: string; cgroup?: string; unit?: string };

// Reads /proc/<pid>; undefined when the process is gone.
export async function procInfo(t: Transport, pid: number): Promise<ProcInfo | undefined> {
  const gone = (err: unknown) => {
    if (err instanceof TransportError && (err.code === "ENOENT" || err.code === "ESRCH")) return undefined;
    throw err;
  };
  const status = await t.readFile(`/proc/${pid}/status`).catch(gone);
  if (status === undefined) return undefined;
  const cmdline = (await t.readFile(`/proc/${pid}/cmdline`).catch(gone)) ?? "";
  const cg = await t.readFile(`/proc/${pid}/cgroup`).catch(() => "");
  const cgroup = parseProcCgroup(cg);
  return {
    pid,
    ppid: Number(status.match(/^PPid:\s+(\d+)/m)?.[1] ?? 0),
    argv: cmdline ? cmdline.replace(/\0$/, "").split("\0") : [],
    cwd: await t.readLink(`/proc/${pid}/cwd`),
    cgroup,
    unit: cgroup ? unitOfCgroup(cgroup) : undefined,
  };
}

// How a process is named in messages: its command line, shortened.
export function describeProc(p: ProcInfo): string {
  const cmd = p.argv.join(" ").trim() || "?";
  return `pid ${p.pid} (${cmd.length > 160 ? `${cmd.slice(0, 157)}...` : cmd}${p.unit ? `; unit ${p.unit}` : ""})`;
}

const inside = (path: string | undefined, dir: string) => !!path && (path === dir || path.startsWith(`${dir.replace(/\/$/, "")}/`));

// A Gunicorn of this project: it runs the venv's gunicorn (its entry script, or `python -m gunicorn` with the venv's
// python) from inside the project directory. Anything less certain is not ours to stop.
export function isProjectGunicorn(p: Pick<ProcInfo, "argv" | "cwd">, where: { venvDir: string; projectDir: string }): boolean {
  const bin = `${where.venvDir.replace(/\/$/, "")}/bin/`;
  const [a0 = "", a1 = "", a2 = ""] = p.argv;
  const venvPython = a0.startsWith(bin) && /\/python[\d.]*$/.test(a0);
  const runsGunicorn = a0 === `${bin}gunicorn` || (venvPython && (a1 === `${bin}gunicorn` || (a1 === "-m" && a2 === "gunicorn")));
  const chdir = p.argv.find((_, i) => p.argv[i - 1] === "--chdir") ?? p.argv.find((a) => a.startsWith("--chdir="))?.slice(8);
  return runsGunicorn && (inside(p.cwd, where.projectDir) || inside(chdir, where.projectDir));
}

// Every PID on the host (from /proc).
export async function allPids(t: Transport): Promise<number[]> {
  return (await t.readDir("/proc")).filter((d) => /^\d+$/.test(d)).map(Number);
}

// The Gunicorns of this project running anywhere on the host, with the unit (if any) each belongs to.
export async function projectGunicorns(t: Transport, where: { venvDir: string; projectDir: string }): Promise<ProcInfo[]> {
  const out: ProcInfo[] = [];
  for (const pid of await allPids(t)) {
    const p = await procInfo(t, pid).catch(() => undefined);
    if (p && isProjectGunicorn(p, where)) out.push(p);
  }
  return out;
}

// Whether a process still exists (a zombie counts as gone: it holds nothing).
export async function alive(t: Transport, pid: number): Promise<boolean> {
  const status = await t.readFile(`/proc/${pid}/status`).catch(() => undefined);
  return status !== undefined && !/^State:\s+Z/m.test(status);
}

// Waits until none of `pids` is alive, at most `ms`; resolves those still alive.
export async function waitGone(t: Transport, pids: number[], ms: number): Promise<number[]> {
  const until = Date.now() + ms;
  for (;;) {
    const left: number[] = [];
    for (const p of pids) if (await alive(t, p)) left.push(p);
    if (!left.length || Date.now() >= until) return left;
    await new Promise((r) => setTimeout(r, 200));
  }
}
