import { serviceFacts } from "../../probes/service-facts.ts";
import { unappliedMigrations } from "../../probes/django.ts";
import { serviceEnv, unitEnv } from "../../probes/environment.ts";
import { isLocalDatabase, psqlTarget } from "../../probes/postgres-server.ts";
import { dbConnection, parseDatabaseUrl, readDatabaseUrl, type DbTarget } from "../../probes/postgres.ts";
import { psqlArgv } from "../actions.ts";
import { defineFix, type Action, type Fix, type FixEnv } from "../fix.ts";
import {
  alterRole,
  grantsFor,
  loginRepairs,
  migrationUndo,
  parseMigrationPlan,
  parsePrivileges,
  parseRoleState,
  passwordMatches,
  quoteIdent,
  privilegesSql,
  roleStateSql,
  saslprepIsIdentity,
  scramVerifier,
  setPasswordSql,
} from "./database-sql.ts";

// The app's PostgreSQL target as its next start reads it (the unit's Environment= and env files), or why not.
async function appTarget(env: FixEnv): Promise<{ target: DbTarget; source: string } | { manual: string }> {
  const u = await unitEnv(env.ctx);
  const source = u.paths.join(", ") || "the unit's Environment=";
  if (u.unreadable.length) return { manual: `cannot read the unit's env files: ${u.unreadable.join(", ")}` };
  const url = readDatabaseUrl(u.env.DATABASE_URL);
  if (url.kind !== "postgres")
    return { manual: url.kind === "unset" ? `DATABASE_URL is not set in ${source}` : `DATABASE_URL in ${source} is not a PostgreSQL URL we can read` };
  if (!url.target.user) return { manual: `DATABASE_URL in ${source} names no role` };
  // Repair SQL runs as this machine's postgres user over its local socket: never on a same-named role of a local
  // cluster when the app's server is elsewhere.
  if (!isLocalDatabase(url.target)) return { manual: `the app's database server is ${url.target.host}, not this machine's cluster: repair its role there` };
  return { target: url.target, source };
}

// Runs a read-only query as the postgres OS user on the app's cluster (SQL on stdin); throws with psql's first words.
async function psqlRead(env: FixEnv, target: DbTarget, database: string, sql: string): Promise<string> {
  const where = psqlTarget(target);
  const r = await env.transport.run(psqlArgv(database, where), { input: sql, cwd: "/", timeoutMs: env.config.timeouts.commandMs });
  if (r.exitCode !== 0)
    throw new Error(
      `psql as postgres on ${where.socketDir} port ${where.port} (database ${database}) ` +
        `exited ${r.exitCode}: ${env.ctx.clip(r.stderr.trim().split("\n")[0] ?? "", 200)}`,
    );
  return r.stdout;
}

// Whether the env file's password is the role's: from the stored verifier, or (when it cannot tell) from the app's own connection attempt.
async function passwordIsWrong(env: FixEnv, target: DbTarget, stored: string | null): Promise<boolean> {
  const m = passwordMatches(target.password, stored, target.user);
  if (m !== undefined) return !m;
  const c = await dbConnection(env.ctx);
  return !c.ok && /password authentication failed/i.test(c.reason);
}

// Makes the app's role usable again: LOGIN, no CONNECTION LIMIT 0, an unexpired VALID UNTIL, and the password of
// DATABASE_URL (the env file is the truth, never the reverse). Never creates a role.
export const repairDbRole = defineFix({
  id: "repair-db-role",
  title: "Let the app's PostgreSQL role log in with the password of its DATABASE_URL",
  rank: 20,
  restartsApp: false, // Django opens connections per request: the running app uses the repaired role at once
  touches: () => ({ files: [], units: [] }),
  async plan(env) {
    const app = await appTarget(env);
    if ("manual" in app) return app;
    const { target, source } = app;
    let out: string;
    try {
      out = await psqlRead(env, target, "postgres", roleStateSql(target.user));
    } catch (err) {
      return { manual: `PostgreSQL does not answer: ${(err as Error).message}` };
    }
    const s = parseRoleState(out);
    if (!s)
      return {
        manual:
          `role ${target.user} (DATABASE_URL in ${source}) does not exist; ` +
          "roles are never created automatically: create it as postgres, then validate again",
      };
    if (s.password) env.addSecret(s.password);
    const actions: Action[] = [];
    const notes: string[] = [];
    const fix = loginRepairs(s);
    if (fix.length)
      actions.push({
        kind: "sql",
        database: "postgres",
        sql: alterRole(
          target.user,
          fix.map((f) => f.set),
        ),
        show: alterRole(
          target.user,
          fix.map((f) => f.set),
        ),
        undo: alterRole(
          target.user,
          fix.map((f) => f.undo),
        ),
        undoShow: alterRole(
          target.user,
          fix.map((f) => f.undo),
        ),
      });
    if (await passwordIsWrong(env, target, s.password)) {
      env.addSecret(target.password);
      // A verifier when SASLprep is the identity: the password itself never reaches the server (nor its log).
      const verifier = saslprepIsIdentity(target.password) ? scramVerifier(target.password) : undefined;
      if (verifier) env.addSecret(verifier);
      const sql = setPasswordSql(target.user, verifier ?? target.password);
      actions.push({
        kind: "sql",
        database: "postgres",
        sql,
        show:
          `ALTER ROLE ${quoteIdent(target.user)} PASSWORD '<the password of DATABASE_URL ` +
          `in ${source}${verifier ? ", sent as a SCRAM-SHA-256 verifier" : ""}>';`,
        undo: setPasswordSql(target.user, s.password),
        undoShow: `ALTER ROLE ${quoteIdent(target.user)} PASSWORD ${s.password === null ? "NULL" : "'<the previous stored verifier>'"};`,
      });
    }
    if (!actions.length) {
      const c = await dbConnection(env.ctx);
      return {
        manual:
          `role ${target.user} may log in and its password is the one in DATABASE_URL; ` +
          `the connection fails for another reason (${c.ok ? "it connects now" : c.reason})`,
      };
    }
    if (fix.length) notes.push(`role ${target.user}: ${fix.map((f) => f.what).join(", ")}`);
    // DB-001 judges the running process: one started with another password stays red until the app restarts.
    const running = await serviceEnv(env.ctx).catch(() => undefined);
    const was = running?.steady ? parseDatabaseUrl(running.env.DATABASE_URL) : undefined;
    if (was && was.password !== target.password)
      notes.push(`the running app was started with another DATABASE_URL password than ${source} holds: it connects only after its next restart`);
    return { actions, notes };
  },
});

// Grants the app's role what DB-003 tests (and `migrate` needs on PostgreSQL 15, where public no longer gives
// CREATE to everyone): CONNECT and TEMPORARY on its database, USAGE and CREATE on schema public; only what is missing.
export const grantSchema = defineFix({
  id: "grant-schema",
  title: "Grant the app's role the privileges migrate needs (its database, schema public)",
  rank: 30,
  restartsApp: false,
  touches: () => ({ files: [], units: [] }),
  async plan(env) {
    const app = await appTarget(env);
    if ("manual" in app) return app;
    const { target } = app;
    let out: string;
    try {
      out = await psqlRead(env, target, target.database, privilegesSql(target.user));
    } catch (err) {
      return { manual: `cannot read the privileges of ${target.user} on ${target.database}: ${(err as Error).message}` };
    }
    const p = parsePrivileges(out);
    if (!p) return { manual: `role ${target.user} does not exist; roles are never created automatically` };
    if (p.usage === null) return { manual: `database ${target.database} has no schema public; create it (or point the app at its schema) by hand` };
    const g = grantsFor(p, target.user, target.database);
    if (!g.grant.length) return { manual: `role ${target.user} already has CONNECT, TEMPORARY, USAGE and CREATE on public in ${target.database}` };
    return {
      actions: [
        { kind: "sql", database: target.database, sql: g.grant.join("\n"), show: g.grant.join(" "), undo: g.revoke.join("\n"), undoShow: g.revoke.join(" ") },
      ],
      notes: [`missing: ${g.missing.join(", ")}`],
    };
  },
});

// Applies unapplied migrations as the service (its user, environment and directory), before the app restarts on them.
export const migrate = defineFix({
  id: "migrate",
  title: "Apply Django's unapplied migrations as the service",
  rank: 70,
  restartsApp: true,
  touches: () => ({ files: [], units: [] }),
  async plan(env) {
    const m = await unappliedMigrations(env.ctx);
    if (!m.ok) return { manual: `showmigrations failed: ${m.output}` };
    if (!m.pending.length) return { actions: [] };
    const f = await serviceFacts(env.ctx);
    const output = f.ran && f.django.ok && f.django.migrations?.ok ? f.django.migrations.output : "";
    const u = migrationUndo(parseMigrationPlan(output));
    const pending = u.pending.length ? u.pending : m.pending;
    const python = `${env.config.venvDir}/bin/python`;
    const back = u.back.map((b) => `manage.py migrate ${b.app} ${b.to}`).join("; ");
    const undo =
      `it applies ${pending.join(", ")}; to go back, as the service user with its environment run ` +
      `${back || "manage.py migrate <app> <previous migration>"} (newest app first; what those migrations added, data included, is dropped)`;
    return {
      actions: [{ kind: "run", argv: [python, "manage.py", "migrate", "--noinput"], show: `${python} manage.py migrate --noinput`, asService: true, undo }],
      notes: [`${pending.length} unapplied: ${pending.join(", ")}`],
    };
  },
});

// The database fixes, listed in fixes/index.ts.
export const databaseFixes: Fix[] = [repairDbRole, grantSchema, migrate];
