import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { killAll, runCommand } from "./local.ts";
import { quoteArg, quoteArgv } from "./quote.ts";
import { TransportError, type CommandResult, type FileStat, type RunOptions, type Transport } from "./types.ts";

// Where a host is and how to reach it; `options` are extra ssh arguments (an inventory's ansible_ssh_common_args).
export type SshTarget = { host: string; user?: string; port?: number; options?: string[]; sudo?: boolean; ssh?: string };

// ssh's options for one run: one master connection per host in a private socket directory, never a prompt, a
// bounded connect; the user's own ~/.ssh/config (keys, agents, jump hosts) still applies.
export function sshOptions(t: SshTarget, controlDir: string, connectTimeoutS: number): string[] {
  return [
    "-o", "BatchMode=yes",
    "-o", `ConnectTimeout=${connectTimeoutS}`,
    "-o", "ControlMaster=auto",
    "-o", `ControlPath=${controlDir}/%C`,
    "-o", "ControlPersist=120",
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

// Runs commands and file reads on another host over OpenSSH, behind the same interface as the local transport.
// ssh's exit 255 is a transport error (the check errors, never passes).
export function createSshTransport(target: SshTarget, defaultTimeoutMs = 10_000): Transport {
  const live = new Set<number>();
  const controlDir = mkdtempSync(path.join(tmpdir(), "ddv-ssh-"));
  const ssh = target.ssh ?? "ssh";
  const base = sshOptions(target, controlDir, Math.max(1, Math.ceil(defaultTimeoutMs / 1000)));
  const name = `ssh://${target.user ? `${target.user}@` : ""}${target.host}${target.port ? `:${target.port}` : ""}`;

  async function run(argv: string[], opts: RunOptions = {}): Promise<CommandResult> {
    const line = remoteCommand(argv, opts, target.sudo);
    const r = await runCommand([ssh, ...base, "--", target.host, line], { input: opts.input, timeoutMs: opts.timeoutMs, maxOutputBytes: opts.maxOutputBytes }, defaultTimeoutMs, live);
    const last = r.stderr.trim().split("\n").at(-1) ?? "";
    if (r.exitCode === 255) throw new TransportError(`ssh to ${target.host} failed: ${last || "exit 255"}`, "ESSH");
    if (target.sudo && r.exitCode === 1 && /^sudo: (a password is required|a terminal is required)/m.test(r.stderr))
      throw new TransportError(`sudo on ${target.host} wants a password: allow this user passwordless sudo (NOPASSWD) or connect as root`, "ESUDO");
    return r;
  }

  const batch = createBatcher(run);

  async function fileCommand(argv: string[], what: string): Promise<string> {
    const r = await batch(argv);
    if (r.exitCode !== 0) throw new TransportError(`cannot ${what}: ${fileErrorCode(r.stderr)} (${r.stderr.trim().split("\n").at(-1) ?? ""})`, fileErrorCode(r.stderr));
    return r.stdout;
  }

  return {
    name,
    run,
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
    close() {
      killAll(live);
      // The master connection ends with the run; its socket directory goes with it.
      void runCommand([ssh, ...base, "-O", "exit", "--", target.host], {}, 3_000, new Set())
        .catch(() => undefined)
        .finally(() => rmSync(controlDir, { recursive: true, force: true }));
    },
  };
}
