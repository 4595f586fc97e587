import type { SecretRules } from "../config/schema.ts";
import { TransportError } from "../transport/types.ts";
import type { ProbeContext } from "./context.ts";
import { isSecretName, urlPassword } from "./redact.ts";

const FIND_TIMEOUT_MS = 20_000;
const FIND_CAP = 200;
// Files larger than this are not read (an env template is a few KiB); they are named as unread instead.
export const READ_CAP_BYTES = 64 * 1024;

// The names an env file or template goes by: .env, .env.production, prod.env, x.env.bak, env.production,
// *.template, *.example, *.sample (settings modules in Python are not env-style and are not read).
const NAMES = [".env*", "*.env", "*.env.*", "env.*", "*.template", "*.example", "*.sample"];

export type ReadableCandidate = { path: string; mode: number; size: number };

// Env-style files with the o+r bit under `dir` on its own filesystem, from one bounded find(1) that prunes the
// venv, node_modules and .git. At most cap+1 lines are read; a failing find is an error.
export async function findReadableEnvFiles(
  ctx: ProbeContext,
  dir: string,
  venv: string,
  cap = FIND_CAP,
): Promise<{ hits: ReadableCandidate[]; more: boolean }> {
  const names = NAMES.map((_, i) => `-name "\${${i + 4}}"`).join(" -o ");
  const script =
    `find -H "$1" -xdev \\( -path "$2" -o -name node_modules -o -name .git \\) ` +
    `-prune -o -type f -perm -0004 \\( ${names} \\) -printf "%s %m %p\\n"; echo "find-exit $?" >&2`;
  const r = await ctx.transport.run(["sh", "-c", `{ ${script}; } | head -n "$3"`, "sh", dir, venv, String(cap + 1), ...NAMES], { timeoutMs: FIND_TIMEOUT_MS });
  return parseCandidates(r.stdout, r.stderr, dir, cap);
}

// Reads findReadableEnvFiles' output ("size mode path" lines; find's status on stderr as "find-exit N").
export function parseCandidates(stdout: string, stderr: string, dir: string, cap = FIND_CAP): { hits: ReadableCandidate[]; more: boolean } {
  const status = Number(stderr.match(/^find-exit (\d+)$/m)?.[1] ?? Number.NaN);
  const lines = stdout.split("\n").filter(Boolean);
  const more = lines.length > cap;
  if (!more && status !== 0) {
    const why = stderr
      .split("\n")
      .filter((l) => l && !l.startsWith("find-exit"))
      .slice(0, 2)
      .join(" | ");
    throw new TransportError(
      `find under ${dir} ${Number.isNaN(status) ? "did not finish" : `exited ${status}`}: ${why || "no message"}; not every path was looked at`,
      "EFIND",
    );
  }
  const hits = lines.slice(0, cap).map((l) => {
    const m = l.match(/^(\d+) ([0-7]+) (.*)$/);
    if (!m) throw new TransportError(`unexpected find output line under ${dir}: ${JSON.stringify(l.slice(0, 80))}`, "EFIND");
    return { size: Number(m[1]), mode: parseInt(m[2] as string, 8), path: m[3] as string };
  });
  return { hits: hits.sort((a, b) => (a.path < b.path ? -1 : 1)), more };
}

// Names of the variables a file assigns a secret: a secret-like name (config.secrets rules) with a non-empty value
// that is not a bare $VAR / ${VAR} reference, or any variable whose URL value carries a password ("NAME (password
// in URL)"). Comment lines do not count. Names only: the values never leave this function.
export function secretAssignments(text: string, rules?: SecretRules): string[] {
  const out = new Set<string>();
  for (const line of text.split(/\r?\n/)) {
    const m = line.match(/^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/);
    if (!m) continue;
    const name = m[1] as string;
    const value = (m[2] as string)
      .trim()
      .replace(/^(["'])(.*)\1$/, "$2")
      .trim();
    if (!value || /^\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)$/.test(value)) continue;
    if (isSecretName(name, rules)) out.add(name);
    else if (urlPassword(value)) out.add(`${name} (password in URL)`);
  }
  return [...out];
}
