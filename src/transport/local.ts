import fs from "node:fs/promises";
import { execa } from "execa";
import { TransportError, type CommandResult, type FileStat, type RunOptions, type Transport } from "./types.ts";

// Runs commands and file reads on this machine, with a hard timeout on every command.
export function createLocalTransport(defaultTimeoutMs = 10_000): Transport {
  return {
    name: "local",
    async run(argv: string[], opts: RunOptions = {}): Promise<CommandResult> {
      const [file, ...args] = argv;
      if (!file) throw new TransportError("run() needs a command, received an empty argv");
      const timeout = opts.timeoutMs ?? defaultTimeoutMs;
      const started = performance.now();
      // Own process group, killed whole on timeout, so a grandchild cannot keep us waiting.
      const r = await execa(file, args, {
        reject: false,
        timeout,
        cwd: opts.cwd,
        env: opts.env,
        extendEnv: opts.env === undefined,
        input: opts.input,
        stdin: opts.input === undefined ? "ignore" : undefined,
        forceKillAfterDelay: 500,
        cleanup: true,
      });
      const durationMs = performance.now() - started;
      if (r.timedOut) throw new TransportError(`${file} timed out after ${timeout} ms`, "ETIMEDOUT");
      const code = (r as { code?: string }).code;
      if (r.exitCode === undefined) throw new TransportError(`${file} could not run: ${code ?? r.signal ?? r.shortMessage}`, code ?? "ESPAWN");
      return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr), durationMs };
    },
    async readFile(path: string) {
      try {
        return await fs.readFile(path, "utf8");
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        throw new TransportError(`cannot read ${path}: ${e.code ?? e.message}`, e.code);
      }
    },
    async stat(path: string): Promise<FileStat | undefined> {
      try {
        const s = await fs.stat(path);
        return { mode: s.mode & 0o7777, uid: s.uid, gid: s.gid, isDirectory: s.isDirectory(), isFile: s.isFile(), size: s.size };
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code === "ENOENT" || e.code === "ENOTDIR") return undefined;
        throw new TransportError(`cannot stat ${path}: ${e.code ?? e.message}`, e.code);
      }
    },
    readLink(path: string) {
      return fs.readlink(path).catch(() => undefined);
    },
    async readDir(path: string) {
      try {
        return await fs.readdir(path);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        throw new TransportError(`cannot list ${path}: ${e.code ?? e.message}`, e.code);
      }
    },
  };
}
