import { createHash } from "node:crypto";
import path from "node:path";
import type { ProbeContext } from "./context.ts";
import { djangoSettings } from "./django.ts";

// A project source file that holds a secret literally, and who else can get at it.
export type SecretInCode = { file: string; holds: string[]; mode?: number; readableByOthers: boolean; committed: string | undefined; gitNote?: string };

// Whether others (not owner, not group) can read `file`: its o+r bit and o+x on every directory above it.
export async function readableByOthers(ctx: ProbeContext, file: string): Promise<{ mode?: number; yes: boolean }> {
  const st = await ctx.transport.stat(file);
  if (!st) return { yes: false };
  let yes = (st.mode & 0o004) !== 0;
  for (let d = path.dirname(file); yes && d !== "/"; d = path.dirname(d)) {
    const dir = await ctx.transport.stat(d);
    yes = ((dir?.mode ?? 0) & 0o001) !== 0;
  }
  return { mode: st.mode & 0o7777, yes };
}

// The git work tree holding `file` and whether its committed version (HEAD) has one of the lines Django's start
// hashed: compared by hash, so the secret is never on a command line nor in our memory.
export async function committedIn(ctx: ProbeContext, file: string, lineHashes: string[]): Promise<{ repo?: string; note?: string }> {
  let root = path.dirname(file);
  while (!(await ctx.transport.stat(`${root}/.git`)) && root !== "/") root = path.dirname(root);
  if (root === "/") return {};
  const rel = path.relative(root, file);
  const r = await ctx.transport.run(["git", "-C", root, "-c", `safe.directory=${root}`, "show", `HEAD:${rel}`], { timeoutMs: 5_000 }).catch(() => undefined);
  if (!r) return { note: `git could not run in ${root}` };
  if (r.exitCode !== 0) return {};
  const hashes = new Set(lineHashes);
  const hit = r.stdout.split("\n").some((l) => hashes.has(createHash("sha256").update(l).digest("hex")));
  return hit ? { repo: root } : {};
}

// Each project file that holds SECRET_KEY or the database password as written, per Django's own start.
export async function secretsInCode(ctx: ProbeContext): Promise<SecretInCode[]> {
  const d = await djangoSettings(ctx);
  if (!d.ok) throw new Error(d.why);
  const found = d.settings.secretsInCode;
  if (!found) throw new Error("this service-facts helper does not report secrets written in code");
  return Promise.all(
    found.map(async (f) => {
      const [r, g] = await Promise.all([readableByOthers(ctx, f.file), committedIn(ctx, f.file, f.lineHashes)]);
      return { file: f.file, holds: f.holds, mode: r.mode, readableByOthers: r.yes, committed: g.repo, gitNote: g.note };
    }),
  );
}
