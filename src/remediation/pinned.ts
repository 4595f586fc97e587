import { readFileSync } from "node:fs";
import type { Transport } from "../transport/types.ts";

// Root's file changes go through pinned-fs.py on the host (run by the transport, so the same over ssh): no link is
// ever followed, and an object that changed since it was looked at is refused. See that file for the rules.
const SCRIPT = readFileSync(new URL("./pinned-fs.py", import.meta.url), "utf8");

export type Kind = "file" | "dir" | "link" | "other";
// What the host holds at a path, seen without following links.
export type Facts = { kind: Kind; dev: number; ino: number; mode: number; uid: number; gid: number; size: number; nlink: number };
// The identity a change must find (device and inode; owner and mode when given), else it is refused.
export type Expect = { dev: number; ino: number; mode?: number; uid?: number; gid?: number };
export type Inspected = (Facts & { target?: string }) | { kind: "missing" } | { kind: "refused"; why: string };
export type Read = Facts & { data: string; xattrs: Record<string, string> };

// A change root would not make: a link on the way, a hard-linked file, an object replaced since the plan.
export class RefusedError extends Error {
  override name = "RefusedError";
}

// A user or group by name or number, resolved on the host.
export type Id = string | number;

type Request =
  | { op: "inspect"; path: string }
  | { op: "change"; path: string; owner?: Id; group?: Id; mode?: number; expect?: Expect }
  | { op: "read"; path: string; expect?: Expect }
  | { op: "write"; path: string; data: string; mode: number; owner: Id; group: Id; xattrs?: Record<string, string>; expect?: Expect; absent?: boolean }
  | { op: "mkdir"; path: string; mode: number; owner: Id; group: Id }
  | { op: "remove"; path: string; expect?: Expect }
  | { op: "place"; path: string; staged: string; expect: Expect }
  | { op: "append"; path: string; data: string };

type Answer = { ok: true; [k: string]: unknown } | { ok: false; refused: boolean; error: string };

// Sends requests to the host's helper in one process start; answers in order, failures as data.
export async function pinnedBatch(t: Transport, requests: Request[]): Promise<Answer[]> {
  if (!requests.length) return [];
  const r = await t.run(["python3", "-I", "-S", "-c", SCRIPT], { input: JSON.stringify(requests), cwd: "/" });
  let out: Answer[] | undefined;
  try {
    out = JSON.parse(r.stdout) as Answer[];
  } catch {}
  if (r.exitCode !== 0 || !Array.isArray(out) || out.length !== requests.length)
    throw new Error(`the file helper (python3) exited ${r.exitCode}: ${(r.stderr || r.stdout).trim().split("\n").slice(-1)[0] ?? "no output"}`);
  return out;
}

// One request that must succeed; a refusal throws RefusedError, any other failure Error, each one line.
export async function pinned<T>(t: Transport, request: Request): Promise<T> {
  const [a] = await pinnedBatch(t, [request]);
  if (!a?.ok) throw a?.refused ? new RefusedError(a.error) : new Error(a?.error ?? "no answer from the file helper");
  return a as unknown as T;
}

// What lies at each path, links not followed: a link or a link on the way is reported, never resolved.
export async function inspectPaths(t: Transport, paths: string[]): Promise<Map<string, Inspected>> {
  const answers = await pinnedBatch(
    t,
    paths.map((path) => ({ op: "inspect", path })),
  );
  return new Map(
    paths.map((p, i) => {
      const a = answers[i] as Answer;
      if (!a.ok) return [p, { kind: "refused", why: a.error }];
      const { ok: _, ...facts } = a;
      return [p, facts as unknown as Inspected];
    }),
  );
}

// One path's facts for a change: undefined when missing; a link (or one on the way) throws RefusedError.
export async function inspectForChange(t: Transport, path: string): Promise<Facts | undefined> {
  const i = (await inspectPaths(t, [path])).get(path) as Inspected;
  if (i.kind === "missing") return undefined;
  if (i.kind === "refused") throw new RefusedError(i.why);
  if (i.kind === "link") throw new RefusedError(`refused: ${path} is a symbolic link${i.target ? ` (to ${i.target})` : ""}: root does not act through links`);
  return i;
}

// The identity to hold a later change to.
export const identityOf = (f: Facts): Expect => ({ dev: f.dev, ino: f.ino, mode: f.mode, uid: f.uid, gid: f.gid });
