// The local transport with run() on execa 9, kept only to be measured against src/transport/local.ts
// (bench/local-transport.ts). It passes test/unit/local-transport*.test.ts; why local.ts stays on node:child_process
// is in the README (the cost of importing execa).
import { execa } from "execa";
import { createLocalTransport as createPlain, killAll, systemProgram } from "../src/transport/local.ts";
import { TransportError, type CommandResult, type RunOptions, type Transport } from "../src/transport/types.ts";

const MAX_OUTPUT = 16 * 1024 * 1024;

// Runs argv in its own process group with a hard timeout; the whole group is killed, so no grandchild can hold us.
export async function runCommand(argv: string[], opts: RunOptions, defaultTimeoutMs: number, live: Set<number>): Promise<CommandResult> {
  const [file, ...args] = argv;
  if (!file) throw new TransportError("run() needs a command, received an empty argv");
  const timeout = opts.timeoutMs ?? defaultTimeoutMs;
  const cap = opts.maxOutputBytes ?? MAX_OUTPUT;
  const started = performance.now();
  const child = execa(systemProgram(file), args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    extendEnv: false, // the env given replaces ours, as before
    detached: true, // its own process group, killed as one below
    cleanup: false, // close() kills what is left; no exit hook per command
    reject: false, // a non-zero exit is data; failures are mapped below
    buffer: false, // output is capped by hand: execa's maxBuffer closes the pipe and the child fails writing to it
    forceKillAfterDelay: false,
    stdin: opts.input === undefined ? "ignore" : "pipe",
    input: opts.input, // execa writes it and ignores the EPIPE of a command that exits without reading
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
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
  child.stdout?.on("data", collect(out));
  child.stderr?.on("data", collect(err));
  const pid = child.pid;
  if (pid) live.add(pid);
  let timedOut = false;
  // Our own timer, not execa's `timeout`: that one signals the child only, then waits for a grandchild holding the pipe.
  const timer = setTimeout(() => {
    timedOut = true;
    if (pid) killGroup(pid);
  }, timeout);
  const r = await child;
  clearTimeout(timer);
  if (pid) live.delete(pid);
  if (timedOut) throw new TransportError(`${file} timed out after ${timeout} ms`, "ETIMEDOUT");
  if (r.signal) throw new TransportError(`${file} was killed by ${r.signal}`, "ESIGNAL");
  if (r.exitCode === undefined) throw new TransportError(`${file} could not run: ${r.code ?? r.originalMessage}`, r.code ?? "ESPAWN");
  const result: CommandResult = {
    exitCode: r.exitCode,
    stdout: Buffer.concat(out).toString("utf8"),
    stderr: Buffer.concat(err).toString("utf8"),
    durationMs: performance.now() - started,
  };
  return truncated ? { ...result, truncated } : result;
}

function killGroup(pid: number) {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {}
}

export function createLocalTransport(defaultTimeoutMs = 10_000): Transport {
  const live = new Set<number>();
  return { ...createPlain(defaultTimeoutMs), run: (argv, opts = {}) => runCommand(argv, opts, defaultTimeoutMs, live), close: () => killAll(live) };
}
