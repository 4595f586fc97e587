import { DEFAULT_GUNICORN_URL } from "../../probes/endpoint.ts";
import { envFileProblems } from "../../checks/fs-permissions.ts";
import type { ProbeContext } from "../../probes/context.ts";
import { operatorEnvFile, unitEnvSources } from "../../probes/environment.ts";
import { serviceIds, userDb } from "../../probes/files.ts";
import { serviceUnit } from "../../probes/systemd.ts";
import { identityOf, pinned, type Read } from "../pinned.ts";
import { defineFix, type Action, type Fix, type FixEnv, type FixPlan } from "../fix.ts";
import { generateSecretKey, hostAllowed, hostList, isFalseLike, setEnvValue, weakSecretKey } from "./env-edit.ts";
import { mergeEnvFiles } from "./env-merge.ts";
import { restoreEnvFile } from "./env-restore.ts";

// The env files the unit reads (config.envFiles when it names none): what every env fix may touch.
export async function envFilePaths(ctx: ProbeContext): Promise<string[]> {
  const unit = await serviceUnit(ctx);
  return unit.environmentFiles.length ? unit.environmentFiles.map((f) => f.path) : ctx.config.envFiles;
}

const touchEnvFiles = async ({ ctx }: FixEnv) => ({ files: await envFilePaths(ctx), units: [] });

// Where `key` comes from: the env file whose assignment wins (systemd's order), the unit's Environment=, or nowhere
// (then the operator's env file, where a new line goes).
async function whereSet(ctx: ProbeContext, key: string): Promise<{ file: string; value: string } | { unit: string } | { unset: string | undefined }> {
  const sources = await unitEnvSources(ctx);
  const winner = sources.filter((s) => s.exists && key in s.env).at(-1);
  if (!winner) {
    const op = operatorEnvFile(sources);
    return { unset: op?.exists ? op.name : undefined };
  }
  if (winner.kind === "Environment=") return { unit: (await serviceUnit(ctx)).id };
  return { file: winner.name, value: winner.env[key] as string };
}

// One `write` of the whole file with `key` set, same owner and mode; undefined when the file already says so.
async function planSet(env: FixEnv, path: string, key: string, value: string): Promise<Action | { manual: string } | undefined> {
  const { transport } = env;
  // Read without following links, as bytes: one byte per character (latin1), so the edited line is the only change
  // and a file that is not UTF-8 keeps every other byte.
  const [st, db] = await Promise.all([pinned<Read>(transport, { op: "read", path }).catch((err: Error) => err), userDb(env.ctx)]);
  if (st instanceof Error) return { manual: `${path}: ${st.message}` };
  const edit = setEnvValue(Buffer.from(st.data, "base64").toString("latin1"), key, value);
  if ("why" in edit) return { manual: `${path}: ${edit.why}` };
  if (!edit.changed) return undefined;
  const owner = db.uidName.get(st.uid) ?? String(st.uid);
  const group = db.gidName.get(st.gid) ?? String(st.gid);
  return { kind: "write", path, content: edit.text, encoding: "latin1", mode: st.mode, owner, group, expect: identityOf(st) };
}

// Sets `key` where it is set (or appends it to the operator's env file); a unit's Environment= is not ours to edit.
async function planKey(
  env: FixEnv,
  key: string,
  value: string,
  judge: (current: string | undefined) => string | undefined,
  notes: string[] = [],
): Promise<FixPlan> {
  const where = await whereSet(env.ctx, key);
  if ("unit" in where) return { manual: `${key} is set by ${where.unit}'s Environment= (no env file overrides it): change the unit, not an env file` };
  if ("unset" in where && !where.unset) return { manual: `no env file of the unit exists to add ${key} to` };
  const path = "file" in where ? where.file : (where.unset as string);
  const wrong = judge("file" in where ? where.value : undefined);
  if (!wrong) return { manual: `${key} in ${path} is already right: the settings module must set it some other way (read it)` };
  const a = await planSet(env, path, key, value);
  if (!a) return { manual: `${path} already sets ${key} so` };
  if ("manual" in a) return a;
  return { actions: [a], notes: [`${key} ${"file" in where ? `in ${path}: ${wrong}` : `is set nowhere: added to ${path}`}`, ...notes] };
}

// Owner and mode of every env file the unit reads, to what FS-003 accepts; only the bits and ids it flags change.
export const fixEnvPermissions = defineFix({
  id: "fix-env-permissions",
  title: "Make every env file of the unit private (owner root or the service, its group, mode 640 at most)",
  rank: 50,
  restartsApp: false,
  touches: touchEnvFiles,
  async plan(env) {
    const { ctx, transport } = env;
    const [unit, files, db, ids] = await Promise.all([serviceUnit(ctx), envFilePaths(ctx), userDb(ctx), serviceIds(ctx)]);
    if (ids.uid === 0) return { manual: "the service runs as root (SEC-008): give it its own user first" };
    const unitGid = db.groups.get(unit.group)?.gid ?? db.users.get(unit.user)?.gid;
    const actions: Action[] = [];
    const notes: string[] = [];
    for (const path of files) {
      const st = await transport.stat(path);
      if (!st?.isFile || !envFileProblems(st, ids).length) continue;
      const uid = st.uid === 0 || st.uid === ids.uid ? st.uid : 0;
      // A group that may not read it becomes the unit's Group= (when the service holds it), else root.
      const gid = st.gid === 0 || ids.gids.includes(st.gid) ? st.gid : unitGid !== undefined && ids.gids.includes(unitGid) ? unitGid : 0;
      let mode = st.mode & 0o640;
      if (![0o400, 0o440, 0o600, 0o640].includes(mode)) mode = 0o640;
      const name = (u: number) => db.uidName.get(u) ?? String(u);
      const gname = (g: number) => db.gidName.get(g) ?? String(g);
      if (uid !== st.uid || gid !== st.gid) actions.push({ kind: "chown", path, owner: name(uid), group: gname(gid) });
      if (mode !== (st.mode & 0o7777)) actions.push({ kind: "chmod", path, mode });
      notes.push(`${path}: ${envFileProblems(st, ids).join(", ")}`);
    }
    return actions.length
      ? { actions, notes }
      : { manual: `every existing env file of the unit (${files.join(", ")}) already has an owner and mode FS-003 accepts` };
  },
});

// A fresh SECRET_KEY where the weak one is set (sessions and password-reset links signed with the old key end).
export const rotateSecretKey = defineFix({
  id: "rotate-secret-key",
  title: "Write a fresh random SECRET_KEY into the env file that sets it",
  rank: 50,
  restartsApp: true,
  touches: touchEnvFiles,
  async plan(env) {
    const key = generateSecretKey();
    env.addSecret(key); // before anything can print it
    return planKey(env, "SECRET_KEY", key, weakSecretKey, ["existing sessions and password-reset links are signed with the old key and stop working"]);
  },
});

// DEBUG=False where DEBUG is set.
export const setDebugFalse = defineFix({
  id: "set-debug-false",
  title: "Set DEBUG=False in the env file that sets it",
  rank: 50,
  restartsApp: true,
  touches: touchEnvFiles,
  plan: (env) => planKey(env, "DEBUG", "False", (v) => (v === undefined ? "unset" : isFalseLike(v) ? undefined : `DEBUG=${v}`)),
});

// The hosts the validator's probes send: the Host header, and the hosts of the Gunicorn and nginx URLs.
function probeHosts(config: FixEnv["config"]): string[] {
  const urls = [config.gunicornUrl ?? DEFAULT_GUNICORN_URL, ...(config.nginxUrl ? [config.nginxUrl] : [])].filter((u) => !u.startsWith("unix:"));
  const header = config.hostHeader.startsWith("[") ? config.hostHeader.replace(/(\])(:\d+)$/, "$1") : config.hostHeader.replace(/:\d+$/, "");
  return [...new Set([header, ...urls.map((u) => new URL(u).hostname)])];
}

// ALLOWED_HOSTS without "*", keeping its explicit hosts, plus what the health probes send (and, when "*" was all
// there was, the hosts of CSRF_TRUSTED_ORIGINS: the operator's own origins).
export const fixAllowedHosts = defineFix({
  id: "fix-allowed-hosts",
  title: "Make ALLOWED_HOSTS an explicit list that admits the health probes",
  rank: 50,
  restartsApp: true,
  touches: touchEnvFiles,
  async plan(env) {
    const where = await whereSet(env.ctx, "ALLOWED_HOSTS");
    if (!("file" in where))
      return {
        manual:
          "unit" in where
            ? `ALLOWED_HOSTS is set by ${where.unit}'s Environment=, not an env file`
            : "no env file sets ALLOWED_HOSTS: the settings module decides it (set it there or add it to the env file by hand)",
      };
    const current = hostList(where.value);
    const kept = current.filter((h) => h !== "*");
    const notes: string[] = [];
    if (!kept.length && current.includes("*")) {
      const sources = await unitEnvSources(env.ctx);
      const csrf = sources
        .filter((s) => s.exists)
        .map((s) => s.env.CSRF_TRUSTED_ORIGINS)
        .filter((v): v is string => !!v)
        .at(-1);
      const origins = hostList(csrf ?? "").flatMap((o) => {
        try {
          const h = new URL(o).hostname;
          return h && !h.includes("*") ? [h] : [];
        } catch {
          return [];
        }
      });
      kept.push(...origins);
      notes.push(
        origins.length
          ? `"*" was the only entry: the hosts of CSRF_TRUSTED_ORIGINS (${origins.join(", ")}) are added as the site's own names`
          : `"*" was the only entry: add the site's public hostnames to ALLOWED_HOSTS in ${where.file}`,
      );
    }
    const wanted = [...kept];
    for (const h of probeHosts(env.config)) if (!wanted.some((p) => hostAllowed(p, h))) wanted.push(h);
    const value = [...new Set(wanted)].join(",");
    if (!current.includes("*") && value === current.join(","))
      return {
        manual:
          `ALLOWED_HOSTS=${where.value} in ${where.file} has no "*" and admits ${probeHosts(env.config).join(", ")}: ` +
          `${env.ids.join(", ")} fail for another reason`,
      };
    const a = await planSet(env, where.file, "ALLOWED_HOSTS", value);
    if (!a) return { manual: `${where.file} already sets ALLOWED_HOSTS=${value}` };
    if ("manual" in a) return a;
    return { actions: [a], notes: [`ALLOWED_HOSTS in ${where.file}: ${where.value} -> ${value}`, ...notes] };
  },
});

// The env files the unit requires and lacks, restored from the newest remediation backup of that path.
export const restoreEnvFileFix = defineFix({
  id: "restore-env-file",
  title: "Restore a missing env file from the newest remediation backup of it",
  rank: 40,
  restartsApp: true,
  touches: touchEnvFiles,
  plan: restoreEnvFile,
});

// The env fixes, listed in fixes/index.ts.
export const envFixes: Fix[] = [fixEnvPermissions, rotateSecretKey, setDebugFalse, fixAllowedHosts, restoreEnvFileFix, mergeEnvFiles];
