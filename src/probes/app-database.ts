import type { ProbeContext } from "./context.ts";
import type { SettingsFacts } from "./service-facts.ts";
import { djangoSettings } from "./django.ts";
import { serviceEnv } from "./environment.ts";
import { DEFAULT_SOCKET_DIR, describeDatabaseUrl, readDatabaseUrl, type DbTarget } from "./postgres.ts";

// The database the app uses, and where that was learned: Django's DATABASES['default'] when its settings load (from
// code, an env file or DATABASE_URL alike), else DATABASE_URL of the service's environment. `why`: not PostgreSQL.
export type AppDatabase = { ok: true; target: DbTarget; source: string } | { ok: false; why: string; source: string };

// Django's PostgreSQL backends (psycopg2's old name and PostGIS included).
const PG_ENGINE = /(^|\.)(postgresql|postgresql_psycopg2|postgis)$/;

// DATABASES['default'] as a connection target, as psycopg would connect: an empty HOST is libpq's local socket, an
// empty PORT 5432; OPTIONS' sslmode and options pass through.
export function targetFromSettings(db: SettingsFacts["DATABASE"]): DbTarget {
  const { sslmode, ...rest } = db.OPTIONS ?? {};
  const params = Object.fromEntries(Object.entries(rest).filter(([k]) => ["options", "sslrootcert", "sslcert", "sslkey", "application_name"].includes(k)));
  return {
    host: db.HOST || DEFAULT_SOCKET_DIR,
    port: Number(db.PORT) || 5432,
    user: db.USER ?? "",
    password: db.PASSWORD ?? "",
    database: db.NAME ?? "",
    ...(sslmode ? { sslmode } : {}),
    ...(Object.keys(params).length ? { params } : {}),
  };
}

// Memoised per run.
export function appDatabase(ctx: ProbeContext): Promise<AppDatabase> {
  return ctx.once("db:app-database", async () => {
    const [s, { env, source: envSource }] = await Promise.all([djangoSettings(ctx), serviceEnv(ctx)]);
    if (s.ok) {
      const db = s.settings.DATABASE;
      const source = `DATABASES['default'] of ${s.source}`;
      if (PG_ENGINE.test(db.ENGINE)) return { ok: true, target: targetFromSettings(db), source };
      const hint = env.DATABASE_URL ? "" : ` (DATABASE_URL is not set in ${envSource})`;
      return { ok: false, source, why: `Django uses ${db.ENGINE || "no ENGINE"}${db.NAME ? ` (NAME ${db.NAME})` : ""}, not PostgreSQL${hint}` };
    }
    // Django cannot load its settings: what the environment says is the best account of where it would connect.
    const url = readDatabaseUrl(env.DATABASE_URL);
    if (url.kind === "postgres") return { ok: true, target: url.target, source: `DATABASE_URL in ${envSource} (Django's settings could not be loaded)` };
    return { ok: false, source: envSource, why: describeDatabaseUrl(url, envSource) };
  });
}
