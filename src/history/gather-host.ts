import path from "node:path";
import type { ProbeContext } from "../probes/context.ts";
import { userDb } from "../probes/files.ts";
import { serviceUnit } from "../probes/systemd.ts";
import type { Items } from "./items.ts";

const hexIp4 = (h: string) => [6, 4, 2, 0].map((i) => parseInt(h.slice(i, i + 2), 16)).join(".");

// Listening TCP sockets ("127.0.0.1:8000", "[::]:80") from /proc/net/tcp{,6} text.
export function parseListening(text: string, v6: boolean): string[] {
  return text
    .split("\n")
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[3] === "0A")
    .map((f) => {
      const [addr = "", port = "0"] = (f[1] ?? "").split(":");
      const host = v6 ? (/^0+$/.test(addr) ? "[::]" : addr === "00000000000000000000000001000000" ? "[::1]" : `[${addr}]`) : hexIp4(addr);
      return `${host}:${parseInt(port, 16)}`;
    });
}

// Every TCP listener on the host (a new or vanished port is often the story of a broken deploy).
export async function gatherListeners(ctx: ProbeContext, b: Items): Promise<void> {
  const [v4, v6] = await Promise.all(["/proc/net/tcp", "/proc/net/tcp6"].map((f) => ctx.transport.readFile(f).catch(() => "")));
  for (const l of [...new Set([...parseListening(v4 ?? "", false), ...parseListening(v6 ?? "", true)])].sort())
    b.add(`listen tcp ${l}`, "listening", "listening");
}

// Owner and mode of the paths a deploy touches: code, venv, working directory, env files, logs, static, the unit.
export async function gatherPaths(ctx: ProbeContext, b: Items): Promise<void> {
  const [unit, db] = await Promise.all([serviceUnit(ctx).catch(() => undefined), userDb(ctx)]);
  const c = ctx.config;
  const paths = [
    c.projectDir,
    c.venvDir,
    unit?.workingDirectory,
    ...(unit?.environmentFiles.map((f) => f.path) ?? c.envFiles),
    c.logDir,
    c.staticRoot,
    unit?.fragmentPath,
  ];
  const unique = [...new Set(paths.filter((p): p is string => !!p))];
  const stats = await Promise.all(unique.map((p) => ctx.transport.stat(p).catch(() => undefined)));
  unique.forEach((p, i) => {
    const s = stats[i];
    const shown = s
      ? `${db.uidName.get(s.uid) ?? s.uid}:${db.gidName.get(s.gid) ?? s.gid} ${(s.mode & 0o7777).toString(8).padStart(4, "0")}${s.isDirectory ? " dir" : ""}`
      : "missing";
    b.add(`path ${p}`, shown, shown);
  });
}

// The code's git commit (read from .git, no git needed) and whether its tree is dirty (git status, when git is there).
export async function gatherCode(ctx: ProbeContext, b: Items): Promise<void> {
  const dir = ctx.config.projectDir;
  const git = path.posix.join(dir, ".git");
  const head = await ctx.transport.readFile(path.posix.join(git, "HEAD")).catch(() => undefined);
  if (head === undefined) return b.add("code commit", "none", `not a git checkout (${dir})`);
  const ref = head.trim().startsWith("ref: ") ? head.trim().slice(5) : undefined;
  const commit = ref ? await ctx.transport.readFile(path.posix.join(git, ref)).catch(() => `${ref} (packed)`) : head;
  b.add("code commit", commit.trim(), `${commit.trim().slice(0, 12)}${ref ? ` (${ref.replace(/^refs\/heads\//, "")})` : " (detached)"}`);
  const st = await ctx.transport
    .run(["git", "-c", "safe.directory=*", "-C", dir, "status", "--porcelain", "--untracked-files=normal"], { timeoutMs: 5_000 })
    .catch(() => undefined);
  if (st?.exitCode !== 0) return b.add("code dirty", "unknown", `unknown (${st ? `git status exited ${st.exitCode}` : "no git on the host"})`);
  const changed = st.stdout.split("\n").filter(Boolean);
  const paths = changed.map((l) => l.slice(3));
  b.add(
    "code dirty",
    changed.join("\n"),
    changed.length ? `dirty: ${changed.length} path(s): ${paths.slice(0, 5).join(" ")}${paths.length > 5 ? " ..." : ""}` : "clean",
  );
}
