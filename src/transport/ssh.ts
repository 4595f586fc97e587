import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { killAll, runCommand } from "./local.ts";
import { quoteArg, quoteArgv } from "./quote.ts";
import { TransportError, type CommandResult, type FileStat, type RunOptions, type Transport } from "./types.ts";

// Where a host is and how to reach it; `options` are extra ssh arguments (an inventory's ansible_ssh_common_args).
export type SshTarget = { host: string; user?: string; port?: number; options?: string[]; sudo?: boolean; ssh?: string };

// ssh's options for one run: never a prompt, a bounded connect, a dead link noticed within seconds, and the
// master connection's socket in a private directory; the user's own ~/.ssh/config (keys, agents, jump hosts) applies.
// `master`: "yes" for the one connection that carries the others, "no" for the commands riding on it.
export function sshOptions(t: SshTarget, controlPath: string, connectTimeoutS: number, master: "yes" | "no" = "no"): string[] {
  return [
    "-o", "BatchMode=yes",
    "-o", `ConnectTimeout=${connectTimeoutS}`,
    "-o", "ServerAliveInterval=5",
    "-o", "ServerAliveCountMax=2",
    "-o", `ControlMaster=${master}`,
    "-o", `ControlPath=${controlPath}`,
    "-o", "StreamLocalBindUnlink=yes",
    ...(t.port ? ["-p", String(t.port)] : []),
    ...(t.user ? ["-l", t.user] : []),
    ...(t.options ?? []),
  ];
}

// The command line the remote shell runs: directory, environment, then argv, every part quoted; under sudo the
// whole line runs in root's shell (`sudo -n`: a password prompt fails at once instead of hanging).
export function remoteCommand(argv: string[], opts: Pick<RunOptions, "cwd" | "env">, sudo = false): string {
  const env = opts.env ? ["env", "-i", ...Object.entries(opts.env).map(([k, v]) => `${k}=${v}`)] : [];
  const line = `${opts.cwd ? `cd ${quoteArg(opts.cwd)} && ` : ""}exec ${quoteArgv([...env, ...argv])}`;
  return sudo ? quoteArgv(["sudo", "-n", "--", "sh", "-c", line]) : line;
}

// errno-like code of a failed file command, from its message (coreutils' wording).
function fileErrorCode(stderr: string): string {
  if (/No such file or directory|Not a directory/.test(stderr)) return "ENOENT";
  if (/Permission denied/.test(stderr)) return "EACCES";
  if (/Is a directory/.test(stderr)) return "EISDIR";
  return "EIO";
}

type Pending = { argv: string[]; resolve: (r: CommandResult) => void; reject: (e: unknown) => void };

// One remote script for many small commands: each answers on its own line as "exit base64(stdout) base64(stderr)".
export function batchScript(commands: string[][]): string {
  const lines = commands.map((argv) => `r ${quoteArgv(argv)}`);
  return [
    "t=$(mktemp -d) || exit 97",
    'r() { "$@" >"$t/o" 2>"$t/e"; c=$?; printf \'%s %s %s\\n\' "$c" "$(base64 -w0 <"$t/o")" "$(base64 -w0 <"$t/e")"; }',
    ...lines,
    'rm -rf "$t"',
    "",
  ].join("\n");
}

// Reads batchScript's answers, one CommandResult per command, in order; undefined when the output is cut short.
export function parseBatch(stdout: string, count: number): CommandResult[] | undefined {
  const rows = stdout.split("\n").filter(Boolean);
  if (rows.length !== count) return undefined;
  const text = (b64 = "") => Buffer.from(b64, "base64").toString("utf8");
  return rows.map((row) => {
    const [code, out, err] = row.split(" ");
    return { exitCode: Number(code), stdout: text(out), stderr: text(err), durationMs: 0 };
  });
}

// Gathers the file calls that checks make at the same moment (the evaluator starts them together) into one
// round trip: calls queued within one turn of the event loop go out as one script on the remote shell's stdin.
function createBatcher(run: (argv: string[], opts?: RunOptions) => Promise<CommandResult>) {
  let queue: Pending[] = [];
  const flush = async () => {
    const mine = queue;
    queue = [];
    try {
      const r = await run(["sh", "-s"], { input: batchScript(mine.map((p) => p.argv)), maxOutputBytes: 64 * 1024 * 1024 });
      const rows = parseBatch(r.stdout, mine.length);
      if (!rows) throw new TransportError(`a batch of ${mine.length} file calls answered ${r.stdout.split("\n").filter(Boolean).length} lines (exit ${r.exitCode}): ${r.stderr.trim().split("\n").at(-1) ?? ""}`, "EBATCH");
      mine.forEach((p, i) => p.resolve(rows[i] as CommandResult));
    } catch (err) {
      for (const p of mine) p.reject(err);
    }
  };
  return (argv: string[]) =>
    new Promise<CommandResult>((resolve, reject) => {
      if (!queue.length) setImmediate(() => void flush());
      queue.push({ argv, resolve, reject });
    });
}

const lastLine = (text: string) => text.trim().split("\n").at(-1) ?? "";

// Runs commands and file reads on another host over OpenSSH, behind the same interface as the local transport.
// One master connection per host carries every command and forward; ssh's exit 255 is a transport error (the
// check errors, never passes), and once the master is gone every later call errors at once instead of reconnecting.
export function createSshTransport(target: SshTarget, defaultTimeoutMs = 10_000): Transport {
  const live = new Set<number>();
  const controlDir = mkdtempSync(path.join(tmpdir(), "ddv-ssh-"));
  const controlPath = path.join(controlDir, "master");
  const ssh = target.ssh ?? "ssh";
  const connectS = Math.max(1, Math.ceil(defaultTimeoutMs / 1000));
  const base = sshOptions(target, controlPath, connectS);
  const name = `ssh://${target.user ? `${target.user}@` : ""}${target.host}${target.port ? `:${target.port}` : ""}`;
  let trips = 0;
  let master: Promise<void> | undefined;
  let masterChild: ChildProcess | undefined;
  let lost: string | undefined;

  // Opens the master connection once. Its remote end reads our pipe: when this process ends, however it ends, the
  // pipe closes and the connection with it (no ssh left behind).
  function connect(): Promise<void> {
    master ??= new Promise<void>((resolve, reject) => {
      trips++;
      const child = spawn(ssh, [...sshOptions(target, controlPath, connectS, "yes"), "-T", "--", target.host, "exec cat >/dev/null"], { stdio: ["pipe", "ignore", "pipe"] });
      masterChild = child;
      let err = "";
      let up = false;
      child.stderr?.on("data", (d: Buffer) => void (err += d.toString()));
      child.stdin?.on("error", () => {});
      const stop = () => (clearInterval(poll), clearTimeout(timer));
      const poll = setInterval(() => {
        if (existsSync(controlPath)) (up = true), stop(), resolve();
      }, 10);
      const timer = setTimeout(() => {
        stop();
        child.kill("SIGKILL");
        reject(new TransportError(`ssh to ${target.host}: no connection within ${defaultTimeoutMs} ms`, "ESSH"));
      }, defaultTimeoutMs);
      child.on("error", (e) => (stop(), reject(new TransportError(`cannot start ${ssh}: ${e.message}`, "ENOENT"))));
      child.on("exit", (code, signal) => {
        stop();
        // Before the connection is up, ssh's last lines say why (a ProxyCommand's own error comes before ssh's).
        const why = up ? lastLine(err) : err.trim().split("\n").map((l) => l.trim()).filter((l) => l && !/^@+$|^Warning: Permanently added/.test(l)).slice(-3).join(" / ");
        lost = why || (signal ? `killed by ${signal}` : `exit ${code}`);
        if (!up) reject(new TransportError(`ssh to ${target.host} failed: ${lost}`, "ESSH"));
      });
      for (const s of [child, child.stderr]) (s as { unref?: () => void } | null)?.unref?.();
      (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    });
    return master;
  }

  function ended(): TransportError {
    return new TransportError(`ssh to ${target.host}: the connection ended during the run (${lost}); not reconnecting, so nothing is judged on a host we lost`, "ESSH");
  }

  async function run(argv: string[], opts: RunOptions = {}): Promise<CommandResult> {
    await connect();
    if (lost) throw ended();
    trips++;
    const line = remoteCommand(argv, opts, target.sudo);
    const r = await runCommand([ssh, ...base, "--", target.host, line], { input: opts.input, timeoutMs: opts.timeoutMs, maxOutputBytes: opts.maxOutputBytes }, defaultTimeoutMs, live);
    if (r.exitCode === 255) throw lost ? ended() : new TransportError(`ssh to ${target.host} failed: ${lastLine(r.stderr) || "exit 255"}`, "ESSH");
    if (target.sudo && r.exitCode === 1 && /^sudo: (a password is required|a terminal is required)/m.test(r.stderr))
      throw new TransportError(`sudo on ${target.host} wants a password: allow this user passwordless sudo (NOPASSWD) or connect as root`, "ESUDO");
    return r;
  }

  const batch = createBatcher(run);
  const forwards = new Map<string, Promise<string>>();
  let forwarded = 0;

  async function fileCommand(argv: string[], what: string): Promise<string> {
    const r = await batch(argv);
    if (r.exitCode !== 0) throw new TransportError(`cannot ${what}: ${fileErrorCode(r.stderr)} (${lastLine(r.stderr)})`, fileErrorCode(r.stderr));
    return r.stdout;
  }

  // A unix socket in our private directory, forwarded by the master to `remote` as seen from the host.
  function forward(remote: string, file = "sock"): Promise<string> {
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
        if (r.exitCode !== 0) throw new TransportError(`ssh to ${target.host}: cannot forward to ${remote}: ${lastLine(r.stderr) || `exit ${r.exitCode}`}`, "ESSH");
        return local;
      })();
      p.catch(() => forwards.delete(key));
      forwards.set(key, p);
    }
    return p;
  }

  return {
    name,
    get roundTrips() {
      return trips;
    },
    run,
    forward,
    readFile: (p) => fileCommand(["cat", "--", p], `read ${p}`),
    async stat(p): Promise<FileStat | undefined> {
      const r = await batch(["stat", "-L", "-c", "%f %u %g %s", "--", p]);
      if (r.exitCode !== 0) {
        const code = fileErrorCode(r.stderr);
        if (code === "ENOENT") return undefined;
        throw new TransportError(`cannot stat ${p}: ${code}`, code);
      }
      const [mode, uid, gid, size] = r.stdout.trim().split(" ");
      const raw = Number.parseInt(mode ?? "", 16);
      const type = raw & 0o170000;
      return { mode: raw & 0o7777, uid: Number(uid), gid: Number(gid), isDirectory: type === 0o040000, isFile: type === 0o100000, size: Number(size) };
    },
    async readDir(p) {
      const out = await fileCommand(["find", p, "-mindepth", "1", "-maxdepth", "1", "-printf", "%f\\0"], `list ${p}`);
      return out.split("\0").filter(Boolean);
    },
    async readLink(p) {
      const r = await batch(["readlink", "--", p]).catch(() => undefined);
      return r && r.exitCode === 0 ? r.stdout.replace(/\n$/, "") : undefined;
    },
    // End of a spec file: stop its commands; the connection stays for the next file.
    close() {
      killAll(live);
    },
    dispose() {
      killAll(live);
      masterChild?.kill("SIGTERM");
      rmSync(controlDir, { recursive: true, force: true });
    },
  };
}
