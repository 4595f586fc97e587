import { TransportError } from "../transport/types.ts";
import type { ProbeContext } from "./context.ts";
import { isForkedNotExeced } from "./proc-stat.ts";
import { serviceUnit } from "./systemd.ts";

export type Want = "r" | "w" | "x";

// The running service's credentials, read from the kernel (/proc/PID/status), not from /etc/passwd.
export type ServiceProcess = { pid: number; uid: number; gid: number; groups: number[] };
// Why we cannot look from inside the service: it is not running (the caller models from mode bits instead).
export type Down = { down: string };

// What access(2) said inside the service's mount namespace about one request: ok, a missing path, an
// ancestor that cannot be entered, or the path itself denied. `at` is the path the answer is about.
export type Verdict = { kind: "ok" | "noent" | "nox" | "deny"; at: string; type: "d" | "f" | "-" };

const TIMEOUT_MS = 5_000;
const END = "ddv-access-end";

// Reads the real uid, gid and supplementary groups from a /proc/PID/status text.
export function parseStatus(text: string): { uid: number; gid: number; groups: number[] } {
  // [ \t]*, not \s*: an empty Groups: line must not swallow the next line.
  const field = (k: string) => text.match(new RegExp(`^${k}:[ \\t]*(.*)$`, "m"))?.[1]?.trim();
  const uid = Number(field("Uid")?.split(/\s+/)[0]);
  const gid = Number(field("Gid")?.split(/\s+/)[0]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new TransportError("cannot read Uid/Gid from /proc/<pid>/status");
  const groups = (field("Groups") ?? "").split(/\s+/).filter(Boolean).map(Number);
  if (groups.some((g) => !Number.isInteger(g))) throw new TransportError(`cannot read Groups from /proc/<pid>/status: ${field("Groups")}`);
  return { uid, gid, groups };
}

// The service's main process and its credentials, or why there is none (not running, just exited).
export function serviceProcess(ctx: ProbeContext): Promise<ServiceProcess | Down> {
  return ctx.once("sandbox:process", async () => {
    const u = await serviceUnit(ctx);
    if (!u.mainPid) return { down: "the service is not running" };
    let text: string;
    try {
      text = await ctx.transport.readFile(`/proc/${u.mainPid}/status`);
    } catch (err) {
      if ((err as TransportError).code === "ENOENT" || (err as TransportError).code === "ESRCH")
        return { down: `the service's process (pid ${u.mainPid}) exited while we looked` };
      throw err;
    }
    const name = text.match(/^Name:[ \t]*(.*)$/m)?.[1] ?? "";
    if (isForkedNotExeced(name)) return { down: `the service's process (pid ${u.mainPid}) was still being started by systemd (${name}, not exec'd yet)` };
    return { pid: u.mainPid, ...parseStatus(text) };
  });
}

// The service's process as access() last found it: running, or down (including "exited while we looked").
export async function judgedProcess(ctx: ProbeContext): Promise<ServiceProcess | Down> {
  const p = await serviceProcess(ctx);
  return queueOf(ctx).exited ?? p;
}

// How a verdict was reached, for observed texts.
export function describeBasis(p: ServiceProcess): string {
  return `as uid ${p.uid} (gid ${p.gid}, groups ${p.groups.join(",") || "none"}) inside the service's mount namespace (pid ${p.pid})`;
}

// For each (want, path) pair: walk the ancestors with test -e/-x, then test -e and test -<want> on the path.
// dash's test uses faccessat(AT_EACCESS), so ACLs, read-only and noexec mounts all count. One line per request:
// "<ok|noent|nox|deny> <depth> <d|f|->", depth = number of path components the answer is about.
const SCRIPT = String.raw`
while [ $# -gt 1 ]; do
  w=$1; p=$2; shift 2
  a=; rest=\${p#/}; n=0; r=ok
  while :; do
    case $rest in */*) ;; *) break ;; esac
    a=$a/\${rest%%/*}; rest=\${rest#*/}; n=$((n+1))
    if [ ! -e "$a" ]; then r=noent; break; fi
    if [ ! -x "$a" ]; then r=nox; break; fi
  done
  if [ $r = ok ]; then
    n=$((n+1))
    if [ ! -e "$p" ]; then r=noent; elif ! [ "-$w" "$p" ]; then r=deny; fi
  fi
  t=-; if [ -d "$p" ]; then t=d; elif [ -f "$p" ]; then t=f; fi
  echo "$r $n $t"
done
echo ${END}
`.replaceAll("\\$", "$");

// Splits an absolute path into components; relative paths are a programming error here.
function components(path: string): string[] {
  if (!path.startsWith("/")) throw new Error(`not an absolute path: ${path}`);
  return path.split("/").filter(Boolean);
}

// The argv that tests every request in one process: nsenter into the service's mount namespace, become
// its real uid/gid/groups with setpriv, then the shell's access(2) tests.
export function accessCommand(p: ServiceProcess, requests: Array<{ path: string; want: Want }>): string[] {
  const groups = p.groups.length ? [`--groups=${p.groups.join(",")}`] : ["--clear-groups"];
  const args = requests.flatMap((r) => [r.want, `/${components(r.path).join("/")}`]);
  return [
    "nsenter",
    "-t",
    String(p.pid),
    "-m",
    "--",
    "setpriv",
    `--reuid=${p.uid}`,
    `--regid=${p.gid}`,
    ...groups,
    "--",
    "/bin/sh",
    "-c",
    SCRIPT,
    "sh",
    ...args,
  ];
}

// Reads the command's lines back into one verdict per request; undefined when the output is incomplete.
export function parseAccessOutput(stdout: string, requests: Array<{ path: string; want: Want }>): Verdict[] | undefined {
  const lines = stdout.split("\n").filter(Boolean);
  if (lines[requests.length] !== END) return undefined;
  return requests.map((r, i) => {
    const [kind, depth, type] = (lines[i] as string).split(" ");
    const parts = components(r.path);
    return { kind: kind as Verdict["kind"], at: `/${parts.slice(0, Number(depth)).join("/")}`, type: type as Verdict["type"] };
  });
}

type Request = { path: string; want: Want; resolve: (v: Verdict | Down) => void; reject: (e: unknown) => void };
// exited: set when nsenter found the process gone, so later texts say the model judged.
type Queue = { pending: Request[]; scheduled: boolean; memo: Map<string, Promise<Verdict | Down>>; commands: number; exited?: Down };
const queues = new WeakMap<ProbeContext, Queue>();

function queueOf(ctx: ProbeContext): Queue {
  let q = queues.get(ctx);
  if (!q) {
    q = { pending: [], scheduled: false, memo: new Map(), commands: 0 };
    queues.set(ctx, q);
  }
  return q;
}

// How many nsenter commands this run has started (the batching promise: one per run).
export function accessCommands(ctx: ProbeContext): number {
  return queueOf(ctx).commands;
}

// Whether `pid` is gone or a zombie (no namespaces left to enter).
async function exited(ctx: ProbeContext, pid: number): Promise<boolean> {
  const text = await ctx.transport.readFile(`/proc/${pid}/status`).catch(() => undefined);
  return text === undefined || /^State:\s*[ZX]/m.test(text);
}

// Runs every request queued so far in one command.
async function flush(ctx: ProbeContext, q: Queue): Promise<void> {
  let batch: Request[] = [];
  try {
    const proc = await serviceProcess(ctx);
    // Checks that reach access() in the same turn join this batch.
    await new Promise((r) => setImmediate(r));
    batch = q.pending.splice(0);
    q.scheduled = false;
    if ("down" in proc) return batch.forEach((r) => r.resolve(proc));
    q.commands++;
    const res = await ctx.transport.run(accessCommand(proc, batch), { timeoutMs: TIMEOUT_MS });
    const verdicts = res.exitCode === 0 ? parseAccessOutput(res.stdout, batch) : undefined;
    if (verdicts) return batch.forEach((r, i) => r.resolve(verdicts[i] as Verdict));
    // The process may have exited (or be a zombie, whose namespaces are gone) since systemctl show: then
    // the model is all we have.
    if (await exited(ctx, proc.pid)) {
      const down = { down: `the service's process (pid ${proc.pid}) exited while we looked` };
      q.exited = down;
      return batch.forEach((r) => r.resolve(down));
    }
    throw new TransportError(
      `nsenter/setpriv into the service's mount namespace failed (exit ${res.exitCode}): ${ctx.clip(res.stderr.trim() || res.stdout.trim(), 300)}`,
      "ENSENTER",
    );
  } catch (err) {
    if (!batch.length) {
      batch = q.pending.splice(0);
      q.scheduled = false;
    }
    for (const r of batch) r.reject(err);
  }
}

// Asks the kernel, inside the service's own mount namespace and as its real credentials, whether `want` on
// `path` is allowed. Requests made in the same turn share one command; the same request is asked once.
export function accessInService(ctx: ProbeContext, path: string, want: Want): Promise<Verdict | Down> {
  const q = queueOf(ctx);
  const key = `${want}:${path}`;
  let p = q.memo.get(key);
  if (!p) {
    p = new Promise((resolve, reject) => q.pending.push({ path, want, resolve, reject }));
    q.memo.set(key, p);
    if (!q.scheduled) {
      q.scheduled = true;
      void flush(ctx, q);
    }
  }
  return p;
}

// root: the part of the source filesystem mounted there (systemd's .../inaccessible/... for hidden paths).
export type Mount = { point: string; root: string; options: Set<string> };

// Decodes mountinfo's octal escapes (\040 for a space).
const unescapeOctal = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

// The mount `path` lies on in a /proc/PID/mountinfo text (longest mount point, the later one when stacked),
// with per-mount and superblock options merged.
export function mountOf(mountinfo: string, path: string): Mount | undefined {
  let best: Mount | undefined;
  for (const line of mountinfo.split("\n")) {
    const [left, right] = line.split(" - ");
    const f = (left ?? "").split(" ");
    const point = unescapeOctal(f[4] ?? "");
    if (!point.startsWith("/")) continue;
    const covers = point === "/" || path === point || path.startsWith(`${point}/`);
    if (!covers || (best && point.length < best.point.length)) continue;
    const superOpts = (right ?? "").split(" ")[2] ?? "";
    best = { point, root: unescapeOctal(f[3] ?? ""), options: new Set([...(f[5] ?? "").split(","), ...superOpts.split(",")]) };
  }
  return best;
}

// The service's mount table, read once (for naming read-only and noexec mounts in failure texts).
export function serviceMounts(ctx: ProbeContext, pid: number): Promise<string> {
  return ctx.once(`sandbox:mountinfo:${pid}`, () => ctx.transport.readFile(`/proc/${pid}/mountinfo`).catch(() => ""));
}
