import pg from "pg";
import type { ProbeContext } from "./context.ts";
import { serviceEnv } from "./environment.ts";
import { decode } from "./redact.ts";

export type DbTarget = { host: string; port: number; user: string; password: string; database: string };

// Parses DATABASE_URL (postgres://user:pass@host:port/db) as the app does; undefined if absent or not PostgreSQL.
export function parseDatabaseUrl(url: string | undefined): DbTarget | undefined {
  if (!url) return undefined;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (!/^postgres(ql)?:$/.test(u.protocol)) return undefined;
  return {
    host: decode(u.hostname) || "localhost",
    port: Number(u.port || 5432),
    user: decode(u.username),
    password: decode(u.password),
    database: decode(u.pathname.slice(1)),
  };
}

export type DbConnection = { ok: true; client: pg.Client; target: DbTarget } | { ok: false; reason: string; target?: DbTarget };

// One connection for the run, with the credentials the service really runs with.
export function dbConnection(ctx: ProbeContext): Promise<DbConnection> {
  return ctx.once("db:connection", async () => {
    const { env, source } = await serviceEnv(ctx);
    const target = parseDatabaseUrl(env.DATABASE_URL);
    if (!target) {
      const what = env.DATABASE_URL ? "is not a postgres:// URL" : "is not set";
      return { ok: false, reason: `DATABASE_URL ${what} in ${source}; Django would fall back to SQLite` };
    }
    const t = ctx.config.timeouts.dbMs;
    const client = new pg.Client({ ...target, connectionTimeoutMillis: t, statement_timeout: t, query_timeout: t + 500, application_name: "django-deploy-validator" });
    client.on("error", () => {}); // a server going away mid-run must not crash the run
    try {
      await client.connect();
    } catch (err) {
      const e = err as Error & { code?: string };
      await client.end().catch(() => {});
      return { ok: false, target, reason: `${target.user}@${target.host}:${target.port}/${target.database}: ${e.code ? `${e.code} ` : ""}${e.message}` };
    }
    ctx.onClose(() => Promise.race([client.end(), new Promise<void>((r) => setTimeout(r, 1_000).unref())]));
    return { ok: true, client, target };
  });
}

// Runs one query on the shared connection (memoised by SQL text).
export function dbQuery<T extends Record<string, unknown>>(ctx: ProbeContext, client: pg.Client, sql: string): Promise<T[]> {
  return ctx.once(`db:q:${sql}`, async () => (await client.query<T>(sql)).rows);
}
