import { appDatabase } from "../probes/app-database.ts";
import type { ProbeContext } from "../probes/context.ts";
import { unappliedMigrations } from "../probes/django.ts";
import { dbConnection, dbQuery } from "../probes/postgres.ts";
import { judgeHbaRule, judgeListen, judgeRole, ROLE_FACTS_SQL, serverFacts, type RoleFacts } from "../probes/postgres-server.ts";
import { gunicornSettings } from "../probes/gunicorn.ts";
import { databaseHere } from "../probes/database-here.ts";
import { defineCheck, fail, nothingToJudge, pass, type Verdict } from "./define.ts";

// The shared connection, or an exception that marks a dependant as "could not check".
async function client(ctx: ProbeContext) {
  const c = await dbConnection(ctx);
  if (!c.ok) throw new Error(`no database connection: ${c.reason}`);
  return c.client;
}

// Checks of the PostgreSQL server itself (read as postgres over this machine's socket): nothing to judge when the
// app's database server is another machine (a database host, a managed service).
async function serverElsewhere(ctx: ProbeContext): Promise<Verdict | undefined> {
  const h = await databaseHere(ctx);
  return h.here ? undefined : nothingToJudge(`${h.where}: its server is judged there, not here`);
}

export const databaseChecks = [
  defineCheck(
    {
      id: "DB-001",
      title: "The app's database credentials connect",
      suite: "database",
      severity: "critical",
      smoke: true,
      expects: "a connection with the DATABASE_URL of the service's environment succeeds and the server answers `select current_setting('server_version')`",
      recommendation:
        "As postgres, let the role of DATABASE_URL log in (ALTER ROLE ... LOGIN CONNECTION LIMIT -1 VALID UNTIL 'infinity', " +
        "only what is wrong) and give it the password of DATABASE_URL in the env file (ALTER ROLE ... " +
        "PASSWORD); a wrong host, port or database name is fixed in DATABASE_URL, then restart the service",
      fixId: "repair-db-role",
      dependsOn: ["SVC-012"],
    },
    {
      async run(ctx) {
        const c = await dbConnection(ctx);
        if (!c.ok) return fail(c.reason);
        const [row] = await dbQuery<{ version: string }>(ctx, c.client, "select current_setting('server_version') as version");
        return pass(`connected as ${c.target.user} to ${c.target.database} on ${c.target.host}:${c.target.port}, PostgreSQL ${row?.version}`);
      },
    },
  ),
  defineCheck(
    {
      id: "DB-002",
      reads: ["migrations"],
      title: "No unapplied migrations",
      suite: "database",
      severity: "high",
      expects: "`showmigrations --plan --skip-checks` (run by Django as the unit's user, with the service's environment) lists no [ ] (unapplied) entry",
      recommendation: "Run migrations as the service user: `manage.py migrate` with the service's environment, then restart the service",
      fixId: "migrate",
      dependsOn: ["DB-001", "SVC-003", "FS-001"],
    },
    {
      async run(ctx) {
        const m = await unappliedMigrations(ctx);
        if (!m.ok) throw new Error(`showmigrations failed: ${m.output}`);
        return m.pending.length ? fail(`${m.pending.length} unapplied: ${m.pending.slice(0, 5).join(", ")}`) : pass("all migrations applied");
      },
    },
  ),
  defineCheck(
    {
      id: "DB-003",
      title: "The app's role has the privileges migrate needs",
      suite: "database",
      severity: "high",
      expects: "the role of DATABASE_URL has CONNECT and TEMP on its database, and USAGE and CREATE on schema public",
      recommendation:
        "As postgres, in the app's database: GRANT USAGE, CREATE ON SCHEMA public TO <role> (PostgreSQL 15 no longer " +
        "grants CREATE on public to everyone); GRANT CONNECT, TEMPORARY ON DATABASE <db> TO <role> when those are missing",
      fixId: "grant-schema",
      dependsOn: ["DB-001"],
    },
    {
      async run(ctx) {
        const [p] = await dbQuery<Record<string, boolean>>(
          ctx,
          await client(ctx),
          `select has_database_privilege(current_database(), 'CONNECT') as connect, has_database_privilege(current_database(), 'TEMP') as temp,
                  has_schema_privilege('public', 'USAGE') as usage, has_schema_privilege('public', 'CREATE') as create`,
        );
        const missing = Object.entries(p ?? {})
          .filter(([, v]) => !v)
          .map(([k]) => k.toUpperCase());
        return missing.length ? fail(`missing: ${missing.join(", ")}`) : pass("CONNECT, TEMP, USAGE and CREATE on public");
      },
    },
  ),
  defineCheck(
    {
      id: "DB-004",
      reads: ["gunicorn-config"],
      title: "PostgreSQL has connection headroom for every Gunicorn thread",
      suite: "database",
      severity: "medium",
      expects:
        "max_connections - superuser_reserved_connections - client connections in use >= Gunicorn's " +
        "effective workers x threads (as its config loader resolves them) + thresholds.minConnectionHeadroom",
      recommendation: "Raise max_connections in postgresql.conf (and restart PostgreSQL), or lower Gunicorn workers/threads",
      dependsOn: ["SVC-016", "DB-001"],
    },
    {
      async run(ctx) {
        const [row] = await dbQuery<{ max: number; reserved: number; used: number }>(
          ctx,
          await client(ctx),
          `select current_setting('max_connections')::int as max, current_setting('superuser_reserved_connections')::int as reserved,
                  (select count(*) from pg_stat_activity where backend_type = 'client backend')::int as used`,
        );
        const { workers, threads, source } = await gunicornSettings(ctx);
        const need = workers * threads;
        const free = (row?.max ?? 0) - (row?.reserved ?? 0) - (row?.used ?? 0);
        const s =
          `max_connections=${row?.max}, reserved=${row?.reserved}, in use=${row?.used}, free=${free}; Gunicorn may open ${need} ` +
          `(${workers} workers x ${threads} threads, read by ${source}), margin ${ctx.config.thresholds.minConnectionHeadroom}`;
        return free >= need + ctx.config.thresholds.minConnectionHeadroom ? pass(s) : fail(s);
      },
    },
  ),
  defineCheck(
    {
      id: "DB-005",
      title: "PostgreSQL listens no wider than the app connects",
      suite: "database",
      severity: "medium",
      expects:
        "when DATABASE_URL's host is a Unix socket directory or a loopback name (localhost, 127.0.0.0/8, ::1), " +
        "every entry of the cluster's running listen_addresses is loopback too (read as postgres over the local socket)",
      recommendation: "Set listen_addresses = 'localhost' in postgresql.conf (or ALTER SYSTEM RESET listen_addresses) and restart PostgreSQL",
      dependsOn: ["SVC-012"],
    },
    {
      async run(ctx) {
        const away = await serverElsewhere(ctx);
        if (away) return away;
        const [f, db] = await Promise.all([serverFacts(ctx), appDatabase(ctx)]);
        const appHost = db.ok ? db.target.host : undefined;
        const source = db.source;
        const { wider, appLocal } = judgeListen(f.listen_addresses, appHost);
        const said = `listen_addresses = '${f.listen_addresses}'`;
        const app = appHost === undefined ? `${source} names no PostgreSQL server (${db.ok ? "" : db.why})` : `the app connects to ${appHost}`;
        if (!appLocal) return pass(`${said}; ${app}, which is not loopback, so listening beyond loopback is needed`);
        if (wider.length) return fail(`${said}: ${wider.join(", ")} reaches beyond loopback while ${app}`);
        return pass(`${said}: loopback only; ${app}`);
      },
    },
  ),
  defineCheck(
    {
      id: "DB-006",
      title: "pg_hba.conf asks everyone for a credential, never in clear text",
      suite: "database",
      severity: "high",
      expects:
        "no rule of pg_hba_file_rules (pg_hba.conf as PostgreSQL parses it, read as postgres over the local socket) has an error, " +
        "method trust, a clear-text method (password, pam, ldap, radius, bsd) on a host/hostnossl line, or ident on a TCP line",
      recommendation:
        "In pg_hba.conf use peer for local lines and scram-sha-256 for host lines (hostssl where clients cross a network), then `systemctl reload postgresql`",
      dependsOn: ["SVC-012"],
    },
    {
      async run(ctx) {
        const away = await serverElsewhere(ctx);
        if (away) return away;
        const f = await serverFacts(ctx);
        if (!f.hba.length) throw new Error(`pg_hba_file_rules is empty for ${f.hba_file}: nothing to judge`);
        const bad = f.hba.map(judgeHbaRule).filter((x): x is string => x !== undefined);
        const methods = [...new Set(f.hba.map((r) => r.auth_method))].join(", ");
        return bad.length ? fail(`${f.hba_file}: ${bad.join("; ")}`) : pass(`${f.hba_file}: ${f.hba.length} rules, methods ${methods}`);
      },
    },
  ),
  defineCheck(
    {
      id: "DB-007",
      title: "The app's role cannot act beyond its database",
      suite: "database",
      severity: "high",
      expects:
        "the role of DATABASE_URL (current_user on its own connection) has neither SUPERUSER, " +
        "CREATEROLE nor REPLICATION, and is not a member of a role that has one, nor of pg_execute_server_program, " +
        "pg_read_server_files or pg_write_server_files (CREATEDB and BYPASSRLS are reported, not faulted)",
      recommendation:
        "As postgres: ALTER ROLE <role> NOSUPERUSER NOCREATEROLE NOREPLICATION, " +
        "and REVOKE the listed roles FROM <role>; give it ownership of its database and schema instead",
      dependsOn: ["DB-001"],
    },
    {
      async run(ctx) {
        const [row] = await dbQuery<RoleFacts>(ctx, await client(ctx), ROLE_FACTS_SQL);
        if (!row) throw new Error("pg_roles has no row for current_user");
        const { faults, notes } = judgeRole(row);
        const also = notes.length ? `; also ${notes.join(", ")} (allowed)` : "";
        return faults.length
          ? fail(`role ${row.rolname}: ${faults.join(", ")}${also}`)
          : pass(`role ${row.rolname}: no SUPERUSER, CREATEROLE, REPLICATION or powerful membership${also}`);
      },
    },
  ),
  defineCheck(
    {
      id: "DB-008",
      title: "PostgreSQL stores passwords as SCRAM",
      suite: "database",
      severity: "medium",
      expects:
        "the cluster's password_encryption is scram-sha-256 and no role's stored password (pg_authid, read as postgres over the local socket) is an MD5 hash",
      recommendation:
        "ALTER SYSTEM SET password_encryption = 'scram-sha-256'; SELECT pg_reload_conf(); " +
        "then set each listed role's password again (ALTER ROLE ... PASSWORD) so it is stored as SCRAM",
      dependsOn: ["SVC-012"],
    },
    {
      async run(ctx) {
        const away = await serverElsewhere(ctx);
        if (away) return away;
        const f = await serverFacts(ctx);
        const faults = [];
        if (f.password_encryption !== "scram-sha-256") faults.push(`password_encryption = '${f.password_encryption}' (new passwords are stored with it)`);
        if (f.md5_roles.length) faults.push(`MD5-hashed password stored for ${f.md5_roles.join(", ")}`);
        return faults.length ? fail(faults.join("; ")) : pass("password_encryption = 'scram-sha-256'; no role has an MD5-hashed password");
      },
    },
  ),
];
