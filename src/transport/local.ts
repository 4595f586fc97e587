import { spawn } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import fs from "node:fs/promises";
import { holdLocally } from "./lock.ts";
import { TransportError, type CommandResult, type FileStat, type RunOptions, type LocalTransport } from "./types.ts";

const MAX_OUTPUT = 16 * 1024 * 1024;

// Where our own tools are looked up: the system's directories, never the PATH of an environment a command is given
// (a unit's Environment=PATH=/opt/app/venv/bin would hide setpriv, or put a look-alike in front of it).
export const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const resolved = new Map<string, string>();

// argv[0] as an absolute path found on SYSTEM_PATH (as given when it holds a slash or is found nowhere: the spawn
// then fails with ENOENT naming it).
export function systemProgram(file: string): string {
  if (file.includes("/")) return file;
  let hit = resolved.get(file);
  if (!hit) {
    hit =
      SYSTEM_PATH.split(":")
        .map((d) => `${d}/${file}`)
        .find((p) => isExecutable(p)) ?? file;
    resolved.set(file, hit);
  }
  return hit;
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

// Rejects with ETIMEDOUT when `p` has not settled within `ms`. The underlying syscall (an open() on a hung NFS
// mount or a FIFO without a writer) cannot be cancelled and keeps one libuv thread until it returns; we stop waiting.
function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TransportError(`${what} timed out after ${ms} ms`, "ETIMEDOUT")), ms);
    timer.unref();
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

// Runs argv in its own process group with a hard timeout; the whole group is killed, so no grandchild can hold us.
export function runCommand(argv: string[], opts: RunOptions, defaultTimeoutMs: number, live: Set<number>): Promise<CommandResult> {
  const [file, ...args] = argv;
  if (!file) return Promise.reject(new TransportError("run() needs a command, received an empty argv"));
  const timeout = opts.timeoutMs ?? defaultTimeoutMs;
  const cap = opts.maxOutputBytes ?? MAX_OUTPUT;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(systemProgram(file), args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      detached: true,
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let truncated = false;
    // Each stream keeps its first `cap` bytes; the rest is drained (so the child never blocks) and reported as cut.
    const collect = (into: Buffer[]) => {
      let size = 0;
      return (b: Buffer) => {
        if (size + b.length > cap) {
          truncated = true;
          if (size < cap) into.push(b.subarray(0, cap - size));
        } else into.push(b);
        size += b.length;
      };
    };
    if (child.pid) live.add(child.pid);
    child.stdout?.on("data", collect(out));
    child.stderr?.on("data", collect(err));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-(child.pid as number), "SIGKILL");
      } catch {}
    }, timeout);
    child.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new TransportError(`${file} could not run: ${e.code ?? e.message}`, e.code ?? "ESPAWN"));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      live.delete(child.pid as number);
      if (timedOut) return reject(new TransportError(`${file} timed out after ${timeout} ms`, "ETIMEDOUT"));
      if (code === null) return reject(new TransportError(`${file} was killed by ${signal}`, "ESIGNAL"));
      const result: CommandResult = {
        exitCode: code,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        durationMs: performance.now() - started,
      };
      resolve(truncated ? { ...result, truncated } : result);
    });
    if (opts.input !== undefined) {
      // A command that exits without reading its input (ssh failing to connect, a crashing interpreter) closes
      // the pipe: that EPIPE is not ours to raise; its exit code and stderr say what happened.
      child.stdin?.on("error", () => {});
      child.stdin?.end(opts.input);
    }
  });
}

// Kills every process group still running (commands whose answers were dropped) and forgets them.
export function killAll(live: Set<number>) {
  for (const pid of live) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {}
  }
  live.clear();
}

function fsError(verb: string, path: string, err: unknown): TransportError {
  if (err instanceof TransportError) return err; // our own timeout, already explicit
  const e = err as NodeJS.ErrnoException;
  return new TransportError(`cannot ${verb} ${path}: ${e.code ?? e.message}`, e.code);
}

// Runs commands and file reads on this machine, with a hard timeout on every command and every file call.
export function createLocalTransport(defaultTimeoutMs = 10_000): LocalTransport {
  const live = new Set<number>(); // process groups still running
  return {
    kind: "local",
    name: "local",
    run: (argv, opts = {}) => runCommand(argv, opts, defaultTimeoutMs, live),
    lock: (file, owner) => holdLocally(file, owner, defaultTimeoutMs),
    close: () => killAll(live),
    async readFile(path) {
      try {
        return await bounded(fs.readFile(path, "utf8"), defaultTimeoutMs, `reading ${path}`);
      } catch (err) {
        throw fsError("read", path, err);
      }
    },
    async stat(path): Promise<FileStat | undefined> {
      try {
        const s = await bounded(fs.stat(path), defaultTimeoutMs, `stat of ${path}`);
        return { mode: s.mode & 0o7777, uid: s.uid, gid: s.gid, isDirectory: s.isDirectory(), isFile: s.isFile(), size: s.size };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "ENOTDIR") return undefined;
        throw fsError("stat", path, err);
      }
    },
    // Not a link, gone or unreadable: undefined; a hung call still rejects with ETIMEDOUT.
    readLink: (path) =>
      bounded(
        fs.readlink(path).catch(() => undefined),
        defaultTimeoutMs,
        `readlink of ${path}`,
      ),
    async readDir(path) {
      try {
        return await bounded(fs.readdir(path), defaultTimeoutMs, `listing ${path}`);
      } catch (err) {
        throw fsError("list", path, err);
      }
    },
  };
}
