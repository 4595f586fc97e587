import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { TransportError } from "./types.ts";

// The helper the ssh transport runs on the remote host with its python3, sent over stdin (nothing is installed).
const CODE = readFileSync(path.join(import.meta.dirname, "remote-helper.py"));

// The remote command line that starts it: python3 reads its program from the first line of stdin (base64), then
// serves requests from the rest. Under sudo it runs as root (`-n`: a password prompt fails at once).
export function helperCommand(sudo = false): string {
  const py = `python3 -u -c 'import sys,base64;exec(base64.b64decode(sys.stdin.buffer.readline()))'`;
  return sudo ? `exec sudo -n -- ${py}` : `exec ${py}`;
}

// A request to the helper (see remote-helper.py) and its answer.
export type HelperRequest =
  | { op: "run"; argv: string[]; cwd?: string; env?: Record<string, string>; input?: string; timeout: number; max: number }
  | { op: "read"; path: string; max: number }
  | { op: "stat" | "readdir" | "readlink"; path: string }
  | { op: "hold"; argv: string[]; key: string }
  | { op: "release"; key: string };
export type HelperAnswer = { errno?: string; message?: string; timeout?: boolean; [k: string]: unknown };

export type Helper = { readonly dead: boolean; call(q: HelperRequest, waitMs: number): Promise<HelperAnswer>; kill(): void };

type Pending = { resolve: (a: HelperAnswer) => void; reject: (e: unknown) => void; timer: NodeJS.Timeout };

// Starts `argv` (ssh ... host <helperCommand>) and speaks the helper's protocol: requests are pipelined (many in
// flight on one channel), answers matched by id. `failure` turns the process's end into the error callers see.
export function startHelper(argv: string[], failure: (stderr: string, code: number | null) => TransportError): Helper {
  const child: ChildProcess = spawn(argv[0] as string, argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
  const pending = new Map<number, Pending>();
  let dead: TransportError | undefined;
  let buffer = "";
  let stderr = "";
  let next = 0;
  const fail = (err: TransportError) => {
    dead ??= err;
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(dead);
    }
    pending.clear();
  };
  child.stdin?.on("error", () => {});
  child.stdin?.write(`${CODE.toString("base64")}\n`);
  child.stderr?.on("data", (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-4096)));
  child.stdout?.on("data", (d: Buffer) => {
    buffer += d.toString("utf8");
    for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (!line.startsWith("\x1e")) continue; // a login script's chatter
      const [id, body] = JSON.parse(line.slice(1)) as [number, HelperAnswer];
      const p = pending.get(id);
      if (!p) continue;
      pending.delete(id);
      clearTimeout(p.timer);
      p.resolve(body);
    }
  });
  child.on("error", (e) => fail(new TransportError(`cannot start ${argv[0]}: ${e.message}`, "ENOENT")));
  child.on("close", (code) => fail(failure(stderr, code)));
  return {
    get dead() {
      return dead !== undefined;
    },
    call(q, waitMs) {
      if (dead) return Promise.reject(dead);
      const id = ++next;
      return new Promise<HelperAnswer>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new TransportError(`no answer from ${"path" in q ? `${q.op} ${q.path}` : `the remote ${q.op}`} within ${waitMs} ms`, "ETIMEDOUT"));
        }, waitMs);
        pending.set(id, { resolve, reject, timer });
        child.stdin?.write(`${JSON.stringify([id, q])}\n`);
      });
    },
    kill() {
      fail(new TransportError("the remote helper was stopped", "ESTOPPED"));
      child.kill("SIGKILL");
    },
  };
}
