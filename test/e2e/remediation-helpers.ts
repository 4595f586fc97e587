import { REPO_ROOT } from "../../fixtures/host/paths.ts";
import { catalogue } from "../../src/checks/index.ts";
import { fixById } from "../../src/remediation/fixes/index.ts";
import { assertNoProcessWarnings, hostCli } from "./hosts.ts";

// Proof helpers for remediation on reference hosts: run the CLI inside, snapshot files and rows, compare.

export const STATE_DIR = "/var/lib/ddv/remediation";

// Whether every ID has a check whose fixId names a registered fix (decided when the tests load: new fixes count).
export function fixable(ids: readonly string[]): boolean {
  return (
    ids.length > 0 &&
    ids.every((id) => {
      const c = catalogue.find((x) => x.id === id);
      return !!c?.fixId && !!fixById(c.fixId);
    })
  );
}

// Runs a shell script inside the host as root; stdin is not a terminal (as under cron or CI).
export async function shInside(host: string, script: string, timeoutMs = 600_000) {
  const r = await hostCli(["exec", host, "--", "bash", "-c", script], { timeoutMs });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

// `npx tsx remediate ARGS` inside the host, from this checkout (bind-mounted at the same path), stdin /dev/null.
// A Node deprecation or unhandled-rejection warning in its output fails the calling test. `env` is set for it alone.
export async function remediateInside(host: string, args: string[], env: Record<string, string> = {}) {
  const vars = Object.entries(env)
    .map(([k, v]) => `${k}=${q(v)} `)
    .join("");
  const r = await shInside(host, `cd ${q(REPO_ROOT)} && ${vars}exec npx tsx remediate ${args.map(q).join(" ")} </dev/null`);
  assertNoProcessWarnings(`${r.stdout}\n${r.stderr}`, `remediate ${args.join(" ")} on ${host}`);
  return r;
}

export type Entry = { type: string; owner: string; mode: string; link: string; sha?: string; selfManaged?: boolean };

// Every file, directory and symlink under `roots` (one filesystem): type, owner, mode, link target, sha256.
// `selfManaged` trees belong to a daemon that creates, rewrites and deletes its own files while running
// (PostgreSQL's data directory: pg_internal.init, pg_stat_tmp, WAL): there only owner, mode and type of what
// exists in both snapshots are compared; their data is judged another way (row counts).
export async function snapshot(host: string, roots: string[], opts: { selfManaged?: string[] } = {}): Promise<Map<string, Entry>> {
  const managed = opts.selfManaged ?? [];
  const prune = managed.map((p) => `-path ${q(p)} -prune -o`).join(" ");
  const script = `set -e
find ${roots.map(q).join(" ")} -xdev \\( -type f -o -type l -o -type d \\) -printf 'M\\t%p\\t%y\\t%u:%g\\t%m\\t%l\\n'
find ${roots.map(q).join(" ")} -xdev ${prune} -type f -exec sha256sum -- {} + | sed 's/^/S\\t/'`;
  const r = await shInside(host, script);
  if (r.exitCode !== 0) throw new Error(`snapshot of ${roots.join(" ")} failed (${r.exitCode}): ${r.stderr.slice(-300)}`);
  const m = new Map<string, Entry>();
  for (const line of r.stdout.split("\n")) {
    if (line.startsWith("M\t")) {
      const [, p, type, owner, mode, link] = line.split("\t");
      const selfManaged = managed.some((d) => p === d || (p as string).startsWith(`${d}/`));
      m.set(p as string, { type: type as string, owner: owner as string, mode: mode as string, link: link ?? "", selfManaged });
    } else if (line.startsWith("S\t")) {
      const sm = line.slice(2).match(/^([0-9a-f]{64}) {2}(.*)$/);
      const e = sm && m.get(sm[2] as string);
      if (e) e.sha = sm[1];
    }
  }
  return m;
}

// Paths that differ between two snapshots, with what changed.
export function changes(before: Map<string, Entry>, after: Map<string, Entry>): Array<{ path: string; what: string }> {
  const out: Array<{ path: string; what: string }> = [];
  for (const [p, a] of before) {
    const b = after.get(p);
    if (!b) {
      if (!a.selfManaged) out.push({ path: p, what: "removed" });
    } else {
      const diff = (["type", "owner", "mode", "link", "sha"] as const).filter((k) => a[k] !== b[k]).map((k) => `${k} ${a[k]} -> ${b[k]}`);
      if (diff.length) out.push({ path: p, what: diff.join(", ") });
    }
  }
  for (const [p, b] of after) if (!before.has(p) && !b.selfManaged) out.push({ path: p, what: "added" });
  return out;
}

export type Declared = Record<string, { files: string[]; units: string[] }>;

const glob = (pattern: string, s: string) => new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`).test(s);

// Whether a changed path lies within what the fixes declared: under a declared file prefix, or a
// `systemctl enable` symlink (…/*.wants/<unit>) of a declared unit.
export function withinDeclared(p: string, declared: Declared): boolean {
  for (const d of Object.values(declared)) {
    if (d.files.some((f) => p === f || p.startsWith(f.endsWith("/") ? f : `${f}/`))) return true;
    const wants = p.match(/^\/etc\/systemd\/system\/[^/]+\.(?:wants|requires)\/([^/]+)$/);
    if (wants && d.units.some((u) => glob(u, wants[1] as string) || glob(u, (wants[1] as string).replace(/\.service$/, "")))) return true;
  }
  return false;
}

// The newest run folder's manifest on the host (undefined when no run applied anything).
export async function latestManifest(host: string): Promise<{ dir: string; declared: Declared; files: Array<{ path: string }>; raw: string } | undefined> {
  const r = await shInside(host, `d=$(ls -1d ${STATE_DIR}/[0-9]*-* 2>/dev/null | sort | tail -1); [ -n "$d" ] || exit 3; echo "$d"; cat "$d/manifest.json"`);
  if (r.exitCode === 3) return undefined;
  if (r.exitCode !== 0) throw new Error(`reading the manifest failed: ${r.stderr}`);
  const [dir, ...rest] = r.stdout.split("\n");
  const raw = rest.join("\n");
  const m = JSON.parse(raw) as { declared: Declared; files: Array<{ path: string }> };
  return { dir: dir as string, declared: m.declared, files: m.files, raw };
}

const COUNT_SQL = `SELECT format('%I.%I', table_schema, table_name) || '=' || (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', table_schema, table_name), false, true, '')))[1]::text FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`;

// Row count of every table in `db`, as postgres through psql; undefined when the server does not answer.
export async function rowCounts(host: string, db: string): Promise<Map<string, number> | undefined> {
  const r = await shInside(host, `runuser -u postgres -- psql -XAt -v ON_ERROR_STOP=1 -d ${q(db)} -c ${q(COUNT_SQL)}`, 120_000);
  if (r.exitCode !== 0) return undefined;
  return new Map(
    r.stdout
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => [l.slice(0, l.lastIndexOf("=")), Number(l.slice(l.lastIndexOf("=") + 1))]),
  );
}

// The app's database name, from the DATABASE_URL in the env file (the reference host's layout).
export async function appDatabase(host: string): Promise<string> {
  const r = await shInside(host, `sed -n 's/^DATABASE_URL=.*\\/\\([^/?]*\\).*$/\\1/p' /etc/projectmeats/projectmeats.env | tail -1`);
  return r.stdout.trim() || "projectmeats_db";
}

// Row-count differences that are data loss or unexplained writes: every table keeps its count, except that
// migrate may only add rows to django_migrations (tables it creates are new, not compared).
export function rowChanges(before: Map<string, number>, after: Map<string, number>): string[] {
  const out: string[] = [];
  for (const [t, n] of before) {
    const m = after.get(t);
    if (m === undefined) out.push(`${t}: table gone (had ${n} rows)`);
    else if (t === "public.django_migrations" ? m < n : m !== n) out.push(`${t}: ${n} -> ${m} rows`);
  }
  return out;
}

// The secret values of the host's env file: SECRET_KEY and the DATABASE_URL password.
export async function hostSecrets(host: string): Promise<string[]> {
  const r = await shInside(host, "cat /etc/projectmeats/projectmeats.env");
  const env = Object.fromEntries(
    r.stdout
      .split("\n")
      .map((l) => l.match(/^([A-Z_]+)=(.*)$/))
      .filter(Boolean)
      .map((m) => [m?.[1], m?.[2]]),
  );
  const pw = (env.DATABASE_URL as string | undefined)?.match(/^[a-z]+:\/\/[^:]*:([^@]*)@/)?.[1];
  const out = [env.SECRET_KEY, pw].filter((s): s is string => !!s && s.length >= 8);
  if (out.length < 2) throw new Error(`expected SECRET_KEY and a DATABASE_URL password in the env file, found ${out.length}`);
  return [...out, ...out.map((s) => decodeURIComponent(s))].filter((s, i, a) => a.indexOf(s) === i);
}
