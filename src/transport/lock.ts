import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { type HeldLock, TransportError } from "./types.ts";

const HOLDER = readFileSync(new URL("./lock-holder.py", import.meta.url), "utf8");

// The holder's command line on the host (see lock-holder.py): the lock file and the owner text to leave in it.
export function lockHolderArgv(file: string, owner: string): string[] {
  return ["python3", "-I", "-S", "-c", HOLDER, file, owner];
}

// The holder's first line as a lock: "held", or "busy <owner>"; anything else is an error naming what it said.
export function heldFrom(line: string, file: string, release: () => Promise<void>): HeldLock {
  if (line === "held") return { held: true, release };
  if (line.startsWith("busy")) return { held: false, busy: line.slice(5) };
  throw new TransportError(`the lock holder for ${file} answered ${JSON.stringify(line.slice(0, 200))}`, "ELOCK");
}

// Takes the lock on this machine with a holder child whose stdin we keep: when we end, even by SIGKILL, the pipe
// closes, the holder exits and the kernel frees the lock.
export function holdLocally(file: string, owner: string, timeoutMs: number): Promise<HeldLock> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = lockHolderArgv(file, owner);
    const child = spawn(cmd as string, args, { stdio: ["pipe", "pipe", "pipe"] });
    // Settled whenever the holder ends: a release after that (or a second one) does not wait for an event gone.
    const closed = new Promise<void>((r) => child.once("close", () => r()));
    let out = "";
    let err = "";
    let settled = false;
    const done = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      f();
    };
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      done(() => reject(new TransportError(`taking the lock ${file} timed out after ${timeoutMs} ms`, "ETIMEDOUT")));
    }, timeoutMs);
    child.stdin.on("error", () => {});
    child.stderr.on("data", (b: Buffer) => void (err += b.toString()));
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
      const nl = out.indexOf("\n");
      if (nl < 0) return;
      // Held, the holder does not keep this process alive (a forgotten release cannot hang it); releasing refs it
      // again, or the process could end (with exit code 0) while it waits for the holder to close.
      const release = async () => {
        child.ref();
        child.stdin.end();
        await closed;
      };
      done(() => {
        try {
          const held = heldFrom(out.slice(0, nl), file, release);
          // Held or not, it must not keep this process alive on its own.
          child.unref();
          for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as { unref?: () => void }).unref?.();
          resolve(held);
        } catch (e) {
          reject(e);
        }
      });
    });
    child.on("error", (e: NodeJS.ErrnoException) =>
      done(() => reject(new TransportError(`python3 could not run to take the lock ${file}: ${e.code ?? e.message}`, e.code ?? "ESPAWN"))),
    );
    child.on("close", (code) =>
      done(() => reject(new TransportError(`the lock holder for ${file} exited ${code}: ${err.trim().split("\n").at(-1) ?? ""}`, "ELOCK"))),
    );
  });
}
