import path from "node:path";
import { type AppPath, appWrites, sandboxReadOnly, unitSandbox } from "../probes/app-writes.ts";
import type { ProbeContext } from "../probes/context.ts";
import { type Account, type AccessResult, access, accessBasis, describe, joinDenials, serviceAccount, serviceIds, userDb } from "../probes/files.ts";
import { TransportError, type FileStat } from "../transport/types.ts";
import { serviceUnit } from "../probes/systemd.ts";
import { startupCodeFiles } from "../probes/code-files.ts";
import { READ_CAP_BYTES, findReadableEnvFiles, secretAssignments } from "../probes/secret-files.ts";
import { secretsInCode, type SecretInCode } from "../probes/secrets-in-code.ts";
import { defineCheck, fail, pass } from "./define.ts";

const FIND_TIMEOUT_MS = 20_000;

// The first `n` items, and how many more.
const listSome = (items: string[], n: number) => `${items.slice(0, n).join(", ")}${items.length > n ? ` and ${items.length - n} more` : ""}`;
const FIND_CAP = 200;

// World-writable paths (sticky directories excepted) under `dir` on its own filesystem, from one bounded
// find(1): at most cap+1 lines are read (find stops on SIGPIPE after that). Any other failure of find is an error.
export async function findWorldWritable(ctx: ProbeContext, dir: string, cap = FIND_CAP): Promise<{ hits: string[]; more: boolean }> {
  // Records end in NUL: a name holding a newline (planted to forge a record) stays one path.
  const script = 'find -H "$1" -xdev -perm -0002 ! -type l ! \\( -type d -perm -1000 \\) -printf "%m %p\\0"; echo "find-exit $?" >&2';
  // One record more than the cap tells "exactly cap" from "more" (find may finish before head quits).
  const r = await ctx.transport.run(["sh", "-c", `{ ${script}; } | head -z -n "$2"`, "sh", dir, String(cap + 1)], { timeoutMs: FIND_TIMEOUT_MS });
  return parseFind(r.stdout, r.stderr, dir, cap);
}

// Reads findWorldWritable's output; find's own exit status comes back on stderr as "find-exit N".
export function parseFind(stdout: string, stderr: string, dir: string, cap = FIND_CAP): { hits: string[]; more: boolean } {
  const status = Number(stderr.match(/^find-exit (\d+)$/m)?.[1] ?? Number.NaN);
  const lines = stdout.split("\0").filter(Boolean);
  const hits = lines.slice(0, cap);
  // More than `cap` lines came: there are more hits; find may then have died of SIGPIPE (141) when head quit.
  if (lines.length > cap && (status === 0 || status === 141)) return { hits, more: true };
  if (status !== 0) {
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
  return { hits, more: false };
}

// What is wrong with an env file's owner and mode: the file holds secrets that only systemd (root) needs
// to read. Empty when it is 400/440/600/640, owned by root or the service's uid, and (when the group may
// read) grouped root or one of the service's groups.
export function envFileProblems(st: FileStat, ids: { uid: number; gids: number[] }): string[] {
  const out: string[] = [];
  const m = st.mode & 0o7777;
  if (m & 0o007) out.push("others have access");
  if (m & 0o020) out.push("the group can write");
  if (m & 0o111) out.push("execute bits set");
  if (!out.length && ![0o400, 0o440, 0o600, 0o640].includes(m)) out.push(`mode ${m.toString(8).padStart(4, "0")} is not 400, 440, 600 or 640`);
  if (st.uid !== 0 && st.uid !== ids.uid) out.push(`owner uid ${st.uid} is neither root nor the service's uid ${ids.uid}`);
  if (m & 0o040 && st.gid !== 0 && !ids.gids.includes(st.gid))
    out.push(`group ${st.gid} may read it and is neither root nor one of the service's groups (${ids.gids.join(",")})`);
  return out;
}

// A log directory that does not exist has no logs; access() names the missing directory itself.
function missingAsEmpty(err: unknown): string[] {
  if ((err as TransportError).code === "ENOENT" || (err as TransportError).code === "ENOTDIR") return [];
  throw err;
}

type Denial = Extract<AccessResult, { ok: false }>;
type Judged = { ok: true; line: string } | Denial;

// Whether the service can write what the app writes at `p` (see WriteKind): a pass line, or the first obstacle.
async function judgeWrite(ctx: ProbeContext, p: AppPath, who: Account): Promise<Judged> {
  const where = `${p.path} (${p.sources.join("; ")})`;
  const dir = path.dirname(p.path);
  const r = await access(ctx, p.path, who, "w");
  let line = where;
  if (!r.ok) {
    // Missing: Django's storage makes directories (the nearest existing parent must take them); logging, Gunicorn
    // and tempfile create at most the file itself, in a directory that exists.
    const parent = p.kind === "tree" && r.missing ? path.dirname(r.missing) : p.kind !== "dir" && r.missing === p.path ? dir : undefined;
    if (!parent) return { ...r, obstacle: `${where}: ${r.obstacle}${r.missing ? " (nothing creates it for the app)" : ""}` };
    const up = await access(ctx, parent, who, "w");
    if (!up.ok) return { ...up, obstacle: `${where}: does not exist yet, and ${up.obstacle}` };
    line = `${where}: does not exist yet, ${parent} is writable (${p.kind === "tree" ? "Django creates it" : "created on first write"})`;
  }
  if (p.kind === "rotating" && r.ok) {
    const d = await access(ctx, dir, who, "w");
    if (!d.ok) return { ...d, obstacle: `${where}: rotating renames it and creates a new one in ${dir}, and ${d.obstacle}` };
  }
  return { ok: true, line };
}

// The sandbox named as the cause: a read-only mount seen inside the service, or (the service is down, modelled from
// mode bits) the unit's ProtectSystem= and ReadWritePaths=, which no mode bit shows.
async function withSandboxCause(ctx: ProbeContext, p: AppPath, v: Judged, modelled: boolean): Promise<Judged> {
  if (v.ok ? !modelled : !v.obstacle.includes("read-only inside the service's sandbox")) return v;
  const cause = sandboxReadOnly(await unitSandbox(ctx), p.path);
  if (!cause) return v;
  if (!v.ok) return { ...v, obstacle: `${v.obstacle}: ${cause}` };
  const obstacle = `${p.path} (${p.sources.join("; ")}): read-only inside the service's sandbox when it runs: ${cause}`;
  const basis = "modelled from the unit's ProtectSystem= and ReadWritePaths=: the service is not running";
  return { ok: false, obstacle, basis, reason: `${obstacle} (${basis})` };
}

export const fsChecks = [
  defineCheck(
    {
      id: "FS-001",
      title: "The unit's user can read the Django code",
      suite: "fs-permissions",
      severity: "critical",
      smoke: true,
      expects:
        "manage.py, the WSGI module, the settings module and each INSTALLED_APPS package of the project (under WorkingDirectory), and a " +
        "file Django's start was refused, pass access(2) for read (every ancestor enterable) as the running service's " +
        "uid/gid/groups inside its mount namespace; when the service is down, by mode bits for the unit's User/Group from /etc/passwd",
      recommendation: "chown -R <user>:<group> <project dir> and make files 644, directories 755",
      fixId: "fix-permissions",
      dependsOn: ["SVC-004"],
    },
    {
      async run(ctx) {
        const [who, files] = await Promise.all([serviceAccount(ctx), startupCodeFiles(ctx)]);
        const results = await Promise.all(files.map((f) => access(ctx, f, who, "r")));
        // One closed directory denies everything under it: each obstacle is said once.
        const bad = results.filter((r) => !r.ok).filter((r, i, all) => all.findIndex((o) => !o.ok && o.obstacle === r.obstacle) === i);
        const more = bad.length > 5 ? `; and ${bad.length - 5} more` : "";
        return bad.length ? fail(`${joinDenials(bad.slice(0, 5))}${more}`) : pass(`${listSome(files, 4)} readable by ${who.name} (${await accessBasis(ctx)})`);
      },
    },
  ),
  defineCheck(
    {
      id: "FS-002",
      title: "The log directory and log files are writable by the unit's user",
      suite: "fs-permissions",
      severity: "high",
      expects:
        "the log directory and every *.log in it pass access(2) for write (every ancestor enterable) as the running service's uid/gid/groups " +
        "inside its mount namespace, so read-only mounts of its sandbox count; when the service is down, by mode bits for the unit's User/Group",
      recommendation:
        "chown -R <user>:<group> <log dir>; chmod 775 <log dir>; chmod 664 <log dir>/*.log; " +
        "with ProtectSystem=strict, list the log dir in the unit's ReadWritePaths= and restart",
      fixId: "fix-permissions",
      dependsOn: ["SVC-016"],
    },
    {
      skipIf: (ctx) => (ctx.config.logDir === null ? "logDir is null: the app logs to the journal (files it writes are FS-007's)" : undefined),
      async run(ctx) {
        const dir = ctx.config.logDir as string;
        // Listed as root from outside, so the directory and its logs are asked in one batch with the other checks.
        const [who, names] = await Promise.all([serviceAccount(ctx), ctx.transport.readDir(dir).catch(missingAsEmpty)]);
        const logs = names.filter((n) => n.endsWith(".log")).map((n) => `${dir}/${n}`);
        const results = await Promise.all([dir, ...logs].map((p) => access(ctx, p, who, "w")));
        return results.some((r) => !r.ok)
          ? fail(joinDenials(results))
          : pass(`${dir} and ${logs.length} log files writable by ${who.name} (${await accessBasis(ctx)})`);
      },
    },
  ),
  defineCheck(
    {
      id: "FS-003",
      title: "Env files are private: 400, 440, 600 or 640, owned by root or the service",
      suite: "fs-permissions",
      severity: "critical",
      smoke: true,
      expects:
        "each EnvironmentFile of the unit: mode 400, 440, 600 or 640 (no access for others, no group write, no execute bits); owner root or the " +
        "service's uid; when the group may read, group root or one of the service's groups (the running process's, else the unit's from /etc/passwd)",
      recommendation:
        "chown root:root <env file> && chmod 600 <env file> (systemd reads it as root); " +
        "or chown root:<the unit's Group> and chmod 640 when the app itself must read it",
      fixId: "fix-env-permissions",
      // A root service turns "owner root or the service's user" into "root only": SEC-008 is the root cause.
      dependsOn: ["SVC-005", "SEC-008"],
    },
    {
      async run(ctx) {
        const u = await serviceUnit(ctx);
        const [db, ids] = await Promise.all([userDb(ctx), serviceIds(ctx)]);
        const files = u.environmentFiles.length ? u.environmentFiles.map((f) => f.path) : ctx.config.envFiles;
        // Settings in code: no env file, nothing here to protect.
        if (!files.length) return pass("the unit names no EnvironmentFile= and config.envFiles is empty: no env file to protect");
        const bad: string[] = [];
        const seen: string[] = [];
        for (const f of files) {
          const st = await ctx.transport.stat(f);
          if (!st) continue;
          const problems = envFileProblems(st, ids);
          if (problems.length) bad.push(`${f} ${describe(st, db)}: ${problems.join(", ")}`);
          else seen.push(`${f} ${describe(st, db)}`);
        }
        if (bad.length) return fail(`${bad.join("; ")} (service ids from ${ids.basis})`);
        if (seen.length) return pass(seen.join("; "));
        // Every file the unit names is optional ("-") and absent: nothing to protect (SVC-018 says whether a variable lacks a source).
        const optional = u.environmentFiles.length > 0 && u.environmentFiles.every((f) => f.optional);
        return optional ? pass(`none of ${files.join(", ")} exists (all optional): no env file to protect`) : fail(`none of ${files.join(", ")} exists`);
      },
    },
  ),
  defineCheck(
    {
      id: "FS-004",
      title: "Static files are collected",
      suite: "fs-permissions",
      // In the gate: without them the site renders without its CSS and JS (HTTP-010 stands on this check).
      severity: "critical",
      smoke: true,
      expects: "STATIC_ROOT holds the static probe file (collectstatic ran)",
      recommendation: "Run `manage.py collectstatic --noinput` as the service user with the service's environment",
      fixId: "collectstatic",
      // The static root is the deployment's, and collectstatic runs as the unit's user with its environment: where
      // the unit is not installed (another machine, a wrong service name) a missing file says nothing about it.
      dependsOn: ["SVC-016"],
    },
    {
      async run(ctx) {
        const p = `${ctx.config.staticRoot}/${ctx.config.staticProbeFile}`;
        const st = await ctx.transport.stat(p);
        return st?.isFile && st.size > 0 ? pass(`${p} (${st.size} bytes)`) : fail(`${p} ${st ? "is empty" : "does not exist"}`);
      },
    },
  ),
  defineCheck(
    {
      id: "FS-005",
      title: "Nothing under the project directory is world-writable",
      suite: "fs-permissions",
      severity: "high",
      expects:
        "`find -H <project dir> -xdev -perm -0002 ! -type l` finds nothing but sticky directories: " +
        "no file or directory on the project directory's own filesystem with the o+w bit; find failing or timing out is an error",
      recommendation: "chmod o-w on each path listed (directories 755/775, files 644/664)",
      fixId: "fix-permissions",
    },
    {
      async run(ctx) {
        const dir = ctx.config.projectDir;
        const { hits, more } = await findWorldWritable(ctx, dir);
        if (!hits.length) return pass(`nothing world-writable under ${dir} (find -xdev)`);
        // Control characters in a name are shown escaped: a planted newline must not forge a line of the report.
        const shown = hits.slice(0, 5).map((h) => h.replace(/^(\d+) (.*)$/s, "$2 $1").replace(/[\x00-\x1f\x7f]/g, (c) => JSON.stringify(c).slice(1, -1)));
        return fail(`${more ? `more than ${hits.length}` : hits.length} world-writable: ${shown.join(", ")}${hits.length > 5 ? ", ..." : ""}`);
      },
    },
  ),
  defineCheck(
    {
      id: "FS-006",
      title: "No file under the project directory that others can read assigns a password or key",
      suite: "fs-permissions",
      severity: "high",
      expects:
        "`find -H <project dir> -xdev` (pruning the venv, node_modules and .git) lists no regular file with the o+r bit named like an " +
        "env file or template (.env*, *.env, *.env.*, env.*, *.template, *.example, *.sample) that assigns (NAME=value, comments aside) " +
        "a non-empty value, other than a bare $VAR reference, to a variable named as a secret (config.secrets: SECRET_KEY, *_PASSWORD, " +
        "*_KEY, *_TOKEN, ...) or a URL with a password; the unit's own EnvironmentFiles are left to FS-003; files over 64 KiB are not read (named; " +
        "an error when nothing else is found); find failing is an error. Reports path and variable names, never values",
      recommendation:
        "Remove committed env templates from the deployed tree (or chmod o-r them, " +
        "640 root:<group>), and change every password or key they publish if it is in use anywhere",
    },
    {
      async run(ctx) {
        const dir = ctx.config.projectDir;
        const [u, found] = await Promise.all([serviceUnit(ctx), findReadableEnvFiles(ctx, dir, ctx.config.venvDir)]);
        const own = new Set(u.environmentFiles.map((f) => f.path));
        const files = found.hits.filter((h) => !own.has(h.path));
        const big = files.filter((f) => f.size > READ_CAP_BYTES);
        const read = await Promise.all(
          files
            .filter((f) => f.size <= READ_CAP_BYTES)
            .map(async (f) => ({ f, names: secretAssignments(await ctx.transport.readFile(f.path), ctx.config.secrets) })),
        );
        const leaks = read.filter((x) => x.names.length);
        const unread = big.length ? `; not read (over 64 KiB): ${big.map((f) => `${f.path} (${f.size} bytes)`).join(", ")}` : "";
        const more = found.more ? `; more than ${found.hits.length} candidates, only those were read` : "";
        const mode = (m: number) => m.toString(8).padStart(4, "0");
        if (leaks.length) return fail(`${leaks.map((x) => `${x.f.path} (${mode(x.f.mode)}) assigns ${x.names.join(", ")}`).join("; ")}${unread}${more}`);
        if (big.length || found.more) throw new Error(`no readable file assigns a secret among those read, but not every candidate was read${unread}${more}`);
        return pass(
          `${files.length} env-style file${files.length === 1 ? "" : "s"} readable by others under ` +
            `${dir}${files.length ? ` (${files.map((f) => f.path).join(", ")})` : ""}, none assigns a password or key`,
        );
      },
    },
  ),
  defineCheck(
    {
      id: "FS-007",
      reads: ["gunicorn-config"],
      title: "Every path the app writes is writable by the service inside its sandbox",
      suite: "fs-permissions",
      severity: "critical",
      smoke: true,
      expects:
        "each path the app writes, learned from Django and Gunicorn themselves (the one Python start as the service): " +
        "MEDIA_ROOT (the default storage's location, when uploads go to the file system), FILE_UPLOAD_TEMP_DIR (when set), the filename of every " +
        'LOGGING handler that writes a file, and Gunicorn\'s --error-logfile/--access-logfile when they are paths (not "-"), passes access(2) ' +
        "for write as the running service's uid/gid/groups inside its mount namespace (ProtectSystem=/ReadWritePaths= count); a path not there yet: " +
        "MEDIA_ROOT's nearest existing parent, a log file's own directory; a rotating handler's directory too; when the service is down, " +
        "by mode bits for the unit's User/Group and the unit's ProtectSystem=/ReadWritePaths=. Log files named *.log directly in the config's log " +
        "directory are left to FS-002 (which also judges that directory). Settings or a Gunicorn config that cannot be read is an error, never a pass",
      recommendation:
        "For each path listed: chown it to the unit's User/Group and make directories 775, files 664; under ProtectSystem=strict " +
        "list the path (or its directory) in the unit's ReadWritePaths= (a drop-in) and restart; or point the setting (MEDIA_ROOT, " +
        "FILE_UPLOAD_TEMP_DIR, the LOGGING handler's filename, --error-logfile/--access-logfile) at a directory the service owns",
      dependsOn: ["SVC-016", "SVC-003", "SVC-004", "SVC-005", "SVC-006", "SVC-018", "FS-001"],
    },
    {
      async run(ctx) {
        const [w, who] = await Promise.all([appWrites(ctx), serviceAccount(ctx)]);
        const logDir = ctx.config.logDir?.replace(/\/+$/, "");
        // FS-002 judges every *.log in the config's log directory (and the directory): one root cause, one red check.
        const toFs002 = (p: AppPath) => !!logDir && p.kind !== "tree" && p.kind !== "dir" && path.dirname(p.path) === logDir && p.path.endsWith(".log");
        const mine = w.paths.filter((p) => !toFs002(p));
        const left = w.paths.filter(toFs002);
        const first = await Promise.all(mine.map((p) => judgeWrite(ctx, p, who)));
        const basis = await accessBasis(ctx);
        const results = await Promise.all(mine.map((p, i) => withSandboxCause(ctx, p, first[i] as Judged, basis.startsWith("modelled"))));
        const unknown = w.unknown.length ? `; could not learn: ${w.unknown.join("; ")}` : "";
        const denials = results.filter((r): r is Denial => !r.ok);
        if (denials.length) return fail(`${joinDenials(denials)}${unknown}`);
        const parts = [
          mine.length
            ? `writable by ${who.name} (${basis}): ${results.map((r) => (r as { line: string }).line).join("; ")}`
            : "no path to judge outside the config's log directory",
          ...(left.length
            ? [`left to FS-002 (the config's log directory ${logDir}): ${left.map((p) => `${p.path} (${p.sources.join("; ")})`).join("; ")}`]
            : []),
          ...(w.toJournal.length ? [`no file needed: ${w.toJournal.join("; ")}`] : []),
          ...w.notes,
        ];
        if (w.unknown.length) throw new Error(`could not learn every path the app writes: ${w.unknown.join("; ")}; judged so far: ${parts.join(". ")}`);
        return pass(parts.join(". "));
      },
    },
  ),
  defineCheck(
    {
      id: "FS-008",
      title: "Django's secrets are not written in code others can read or in the project's git",
      suite: "fs-permissions",
      severity: "high",
      expects:
        "no project source file Django loads (outside the Python installation and its packages) holds SECRET_KEY or the " +
        "database password literally where every local user can read it (o+r, each directory above o+x) or in its git " +
        "repository's committed version (HEAD, compared line by line by hash); reports files and what they hold, never values",
      recommendation:
        "Move the secret out of the code: read it with os.environ in settings and set it in an env file the unit loads " +
        "(EnvironmentFile=, 0640 root:<the unit's group>), then restart; meanwhile chmod o-r the file; a secret that was " +
        "committed or readable is public: generate a new one",
      // Django's own start answers it: a service that cannot load its settings is the root cause (as for SEC-010).
      dependsOn: ["SVC-018", "SVC-003", "SVC-004", "FS-001"],
    },
    {
      async run(ctx) {
        const found = await secretsInCode(ctx);
        const bad = found.filter((f) => f.readableByOthers || f.committed);
        const say = (f: SecretInCode) => {
          const how = [
            ...(f.readableByOthers ? [`readable by every local user (${(f.mode ?? 0).toString(8).padStart(4, "0")})`] : []),
            ...(f.committed ? [`committed in the git repository at ${f.committed} (HEAD)`] : []),
          ];
          return `${f.file} holds ${f.holds.join(" and ")}${how.length ? `: ${how.join("; ")}` : ""}${f.gitNote ? ` (${f.gitNote})` : ""}`;
        };
        if (bad.length) return fail(bad.map(say).join("; "));
        if (!found.length) return pass("no project source file holds SECRET_KEY or the database password (they come from elsewhere)");
        return pass(`${found.map(say).join("; ")}; not readable by others and not committed`);
      },
    },
  ),
];
