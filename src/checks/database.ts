import type { ProbeContext } from "../probes/context.ts";
import { unappliedMigrations } from "../probes/django.ts";
import { dbConnection, dbQuery } from "../probes/postgres.ts";
import { gunicornSettings } from "../probes/gunicorn.ts";
import { defineCheck, fail, pass } from "./define.ts";

// The shared connection, or an exception that marks a dependant as "could not check".
async function client(ctx: ProbeContext) {
  const c = await dbConnection(ctx);
  if (!c.ok) throw new Error(`no database connection: ${c.reason}`);
  return c.client;
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
      recommendation: "Make DATABASE_URL in the env file match the PostgreSQL role's password and database (ALTER ROLE ... PASSWORD), then restart the service",
      fixId: "fix-database-url",
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
      recommendation: "As postgres: ALTER DATABASE <db> OWNER TO <role>; ALTER SCHEMA public OWNER TO <role> (PostgreSQL 15 no longer grants CREATE on public)",
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
        const missing = Object.entries(p ?? {}).filter(([, v]) => !v).map(([k]) => k.toUpperCase());
        return missing.length ? fail(`missing: ${missing.join(", ")}`) : pass("CONNECT, TEMP, USAGE and CREATE on public");
      },
    },
  ),
  defineCheck(
    {
      id: "DB-004",
      title: "PostgreSQL has connection headroom for every Gunicorn thread",
      suite: "database",
      severity: "medium",
      expects:
        "max_connections - superuser_reserved_connections - client connections in use >= Gunicorn's effective workers x threads (as its config loader resolves them) + thresholds.minConnectionHeadroom",
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
        const s = `max_connections=${row?.max}, reserved=${row?.reserved}, in use=${row?.used}, free=${free}; Gunicorn may open ${need} (${workers} workers x ${threads} threads, read by ${source}), margin ${ctx.config.thresholds.minConnectionHeadroom}`;
        return free >= need + ctx.config.thresholds.minConnectionHeadroom ? pass(s) : fail(s);
      },
    },
  ),
];
