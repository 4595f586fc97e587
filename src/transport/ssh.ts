import { randomBytes } from "node:crypto";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { killAll, runCommand } from "./local.ts";
import { type Helper, type HelperAnswer, type HelperRequest, helperCommand, startHelper } from "./remote-helper.ts";
import { heldFrom, lockHolderArgv } from "./lock.ts";
import { TransportError, type CommandResult, type FileStat, type RunOptions, type SshTransport } from "./types.ts";

// Where a host is and how to reach it; `options` are extra ssh arguments (an inventory's ansible_ssh_common_args).
export type SshTarget = { host: string; user?: string; port?: number; options?: string[]; sudo?: boolean; ssh?: string };

// ssh's options for one run: never a prompt, a bounded connect, a dead link noticed within seconds, and the
// master connection's socket in a private directory; the user's own ~/.ssh/config (keys, agents, jump hosts) applies.
// `master`: "yes" for the one connection that carries the others, "no" for the commands riding on it.
export function sshOptions(t: SshTarget, controlPath: string, connectTimeoutS: number, master: "yes" | "no" = "no"): string[] {
  return [
    "-o",
    "BatchMode=yes",
    "-o",
    `ConnectTimeout=${connectTimeoutS}`,
    "-o",
    "ServerAliveInterval=5",
    "-o",
    "ServerAliveCountMax=2",
    "-o",
    `ControlMaster=${master}`,
    "-o",
    `ControlPath=${controlPath}`,
    "-o",
    "StreamLocalBindUnlink=yes",
    ...(t.port ? ["-p", String(t.port)] : []),
    ...(t.user ? ["-l", t.user] : []),
    ...(t.options ?? []),
  ];
}

const lastLine = (text: string) => text.trim().split("\n").at(-1) ?? "";

// Runs commands and file reads on another host over OpenSSH, behind the same interface as the local transport.
// One master connection per host carries every command and forward; ssh's exit 255 is a transport error (the
// check errors, never passes), and once the master is gone every later call errors at once instead of reconnecting.
// `parent`: where the private control directory is made (a run's own folder, removed when the run ends).
export function createSshTransport(target: SshTarget, defaultTimeoutMs = 10_000, parent = tmpdir()): SshTransport {
  const live = new Set<number>();
  const controlDir = mkdtempSync(path.join(parent, "ddv-ssh-"));
  const controlPath = path.join(controlDir, "master");
  const ssh = target.ssh ?? "ssh";
  const connectS = Math.max(1, Math.ceil(defaultTimeoutMs / 1000));
  const base = sshOptions(target, controlPath, connectS);
  const name = `ssh://${target.user ? `${target.user}@` : ""}${target.host}${target.port ? `:${target.port}` : ""}`;
  let trips = 0;
  let requests = 0;
  let inFlight = 0;
  let master: Promise<void> | undefined;
  let masterChild: ChildProcess | undefined;
  let lost: string | undefined;

  // Opens the master connection once. Its remote end reads our pipe: when this process ends, however it ends, the
  // pipe closes and the connection with it (no ssh left behind).
  function connect(): Promise<void> {
    master ??= new Promise<void>((resolve, reject) => {
      trips++;
      const child = spawn(ssh, [...sshOptions(target, controlPath, connectS, "yes"), "-T", "--", target.host, "exec cat >/dev/null"], {
        stdio: ["pipe", "ignore", "pipe"],
      });
      masterChild = child;
      let err = "";
      let up = false;
      child.stderr?.on("data", (d: Buffer) => void (err += d.toString()));
      child.stdin?.on("error", () => {});
      const stop = () => {
        clearInterval(poll);
        clearTimeout(timer);
      };
      const poll = setInterval(() => {
        if (!existsSync(controlPath)) return;
        up = true;
        stop();
        resolve();
      }, 10);
      const timer = setTimeout(() => {
        stop();
        child.kill("SIGKILL");
        reject(new TransportError(`ssh to ${target.host}: no connection within ${defaultTimeoutMs} ms`, "ESSH"));
      }, defaultTimeoutMs);
      child.on("error", (e) => {
        stop();
        reject(new TransportError(`cannot start ${ssh}: ${e.message}`, "ENOENT"));
      });
      // "close", not "exit": ssh's last words on stderr are read by then.
      child.on("close", (code, signal) => {
        stop();
        // Before the connection is up, ssh's last lines say why (a ProxyCommand's own error comes before ssh's).
        const why = up
          ? lastLine(err)
          : err
              .trim()
              .split("\n")
              .map((l) => l.trim())
              .filter((l) => l && !/^@+$|^Warning: Permanently added/.test(l))
              .slice(-3)
              .join(" / ");
        lost = why || (signal ? `killed by ${signal}` : `exit ${code}`);
        if (!up) reject(new TransportError(`ssh to ${target.host} failed: ${lost}`, "ESSH"));
      });
      for (const s of [child, child.stderr]) (s as { unref?: () => void } | null)?.unref?.();
      (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    });
    return master;
  }

  function ended(): TransportError {
    return new TransportError(
      `ssh to ${target.host}: the connection ended during the run (${lost}); not reconnecting, so nothing is judged on a host we lost`,
      "ESSH",
    );
  }

  const forwards = new Map<string, Promise<string>>();
  let forwarded = 0;

  // Why the helper ended: the lost master, sudo wanting a password, no python3, or ssh's own last word.
  function helperFailure(stderr: string, code: number | null): TransportError {
    if (lost) return ended();
    if (target.sudo && /^sudo: (a password is required|a terminal is required)/m.test(stderr))
      return new TransportError(`sudo on ${target.host} wants a password: allow this user passwordless sudo (NOPASSWD) or connect as root`, "ESUDO");
    if (code === 127 || /python3: (command )?not found/.test(stderr))
      return new TransportError(`${target.host} has no python3, which the ssh transport runs its helper with (Debian: apt-get install python3)`, "ENOPYTHON");
    return new TransportError(`ssh to ${target.host}: the remote helper ended (${lastLine(stderr) || `exit ${code}`})`, "ESSH");
  }

  // One helper per host on the master connection: every command and file call is a request on its channel,
  // pipelined, so checks asking at once cost one exchange, not one ssh session each.
  let helper: Helper | undefined;
  async function call(q: HelperRequest, waitMs: number): Promise<HelperAnswer> {
    await connect();
    if (lost) throw ended();
    if (!helper) {
      trips++;
      helper = startHelper([ssh, ...base, "-T", "--", target.host, helperCommand(target.sudo)], helperFailure);
    }
    requests++;
    if (inFlight++ === 0) trips++;
    const answer = helper.call(q, waitMs);
    void answer.finally(() => inFlight--).catch(() => {});
    return answer;
  }

  async function run(argv: string[], opts: RunOptions = {}): Promise<CommandResult> {
    const started = performance.now();
    const timeoutMs = opts.timeoutMs ?? defaultTimeoutMs;
    const a = await call(
      {
        op: "run",
        argv,
        cwd: opts.cwd,
        env: opts.env,
        input: opts.input === undefined ? undefined : Buffer.from(opts.input).toString("base64"),
        timeout: timeoutMs / 1000,
        max: opts.maxOutputBytes ?? 16 * 1024 * 1024,
      },
      timeoutMs + 3_000,
    );
    if (a.timeout) throw new TransportError(`${argv[0]} timed out after ${timeoutMs} ms on ${target.host}`, "ETIMEDOUT");
    if (a.errno) throw new TransportError(`${argv[0]} could not run on ${target.host}: ${a.errno} ${a.message ?? ""}`.trim(), a.errno);
    const text = (b64: unknown) => Buffer.from(String(b64 ?? ""), "base64").toString("utf8");
    const r: CommandResult = { exitCode: Number(a.code), stdout: text(a.out), stderr: text(a.err), durationMs: performance.now() - started };
    return a.truncated ? { ...r, truncated: true } : r;
  }

  // A file call's answer, or the TransportError its errno names (ENOENT, EACCES, ETIMEDOUT...).
  async function fileCall(q: HelperRequest & { path: string }): Promise<HelperAnswer> {
    const a = await call(q, defaultTimeoutMs);
    if (a.errno) throw new TransportError(`cannot ${q.op} ${q.path}: ${a.errno} (${a.message ?? ""})`, a.errno);
    return a;
  }

  // Whether the master still answers (`ssh -O check`): once it does not, the connection is lost for the whole run.
  async function lostConnection(): Promise<TransportError | undefined> {
    if (lost) return ended();
    if (!master) return undefined;
    const r = await runCommand([ssh, ...base, "-O", "check", "--", target.host], {}, defaultTimeoutMs, live);
    if (r.exitCode === 0) return undefined;
    lost ??= lastLine(r.stderr) || `the master connection does not answer (exit ${r.exitCode})`;
    return ended();
  }

  // A unix socket in our private directory, forwarded by the master to `remote` as seen from the host.
  function forward(remote: string, file = "sock"): Promise<string> {
    if (lost) return Promise.reject(ended());
    const key = `${remote} ${file}`;
    let p = forwards.get(key);
    if (!p) {
      p = (async () => {
        await connect();
        if (lost) throw ended();
        const dir = path.join(controlDir, `f${++forwarded}`);
        mkdirSync(dir, { mode: 0o700 });
        const local = path.join(dir, file);
        trips++;
        const r = await runCommand([ssh, ...base, "-O", "forward", "-L", `${local}:${remote}`, "--", target.host], {}, defaultTimeoutMs, live);
        if (r.exitCode !== 0)
          throw new TransportError(`ssh to ${target.host}: cannot forward to ${remote}: ${lastLine(r.stderr) || `exit ${r.exitCode}`}`, "ESSH");
        return local;
      })();
      p.catch(() => forwards.delete(key));
      forwards.set(key, p);
    }
    return p;
  }

  return {
    kind: "ssh",
    name,
    get roundTrips() {
      return trips;
    },
    get requests() {
      return requests;
    },
    run,
    forward,
    lostConnection,
    async lock(file, owner) {
      const key = randomBytes(6).toString("hex");
      const a = await call({ op: "hold", argv: lockHolderArgv(file, owner), key }, defaultTimeoutMs);
      if (a.errno) throw new TransportError(`cannot take the lock ${file} on ${target.host}: ${a.errno} ${a.message ?? ""}`.trim(), a.errno);
      return heldFrom(String(a.line), file, async () => void (await call({ op: "release", key }, defaultTimeoutMs).catch(() => {})));
    },
    async readFile(p) {
      const a = await fileCall({ op: "read", path: p, max: 64 * 1024 * 1024 });
      return Buffer.from(String(a.data), "base64").toString("utf8");
    },
    async stat(p): Promise<FileStat | undefined> {
      const a = await fileCall({ op: "stat", path: p });
      if (a.missing) return undefined;
      const type = Number(a.mode) & 0o170000;
      return {
        mode: Number(a.mode) & 0o7777,
        uid: Number(a.uid),
        gid: Number(a.gid),
        isDirectory: type === 0o040000,
        isFile: type === 0o100000,
        size: Number(a.size),
      };
    },
    async readDir(p) {
      return (await fileCall({ op: "readdir", path: p })).names as string[];
    },
    async readLink(p) {
      const a = await fileCall({ op: "readlink", path: p }).catch(() => undefined);
      return a ? String(a.target) : undefined;
    },
    // End of a spec file: the helper's commands end by their own timeouts there; the connection stays for the next file.
    close() {
      killAll(live);
    },
    dispose() {
      killAll(live);
      helper?.kill();
      masterChild?.kill("SIGTERM");
      rmSync(controlDir, { recursive: true, force: true });
    },
  };
}
