import pg from "pg";
import { pgAddress } from "./tunnel.ts";
import { TransportError } from "../transport/types.ts";
import type { ProbeContext } from "./context.ts";

// Where and how the app connects. host is a name, an address or a Unix socket directory (starts with "/").
// sslmode and options are libpq's (from the URL's query), as psycopg receives them in OPTIONS.
export type DbTarget = { host: string; port: number; user: string; password: string; database: string; sslmode?: string; params?: Record<string, string> };

// What DATABASE_URL means to dj-database-url: PostgreSQL, another engine, absent, or a URL it cannot read.
export type DbUrl =
  | { kind: "postgres"; scheme: string; target: DbTarget }
  | { kind: "other"; scheme: string }
  | { kind: "unset" }
  | { kind: "unreadable"; reason: string };

// dj-database-url's PostgreSQL schemes (its SCHEMES table). It looks schemes up exactly: `postgres+psycopg` is not one.
const PG_SCHEMES = ["postgres", "postgresql", "pgsql", "postgis"];
// Its other schemes: a valid URL for another engine, not an unreadable one.
const OTHER_SCHEMES = [
  "mongodb",
  "mongodb+srv",
  "mysql",
  "mysql2",
  "mysqlgis",
  "mysql-connector",
  "mssql",
  "mssqlms",
  "spatialite",
  "sqlite",
  "oracle",
  "oraclegis",
  "redshift",
  "cockroach",
  "timescale",
  "timescalegis",
];

// Debian's libpq: an empty host means the Unix socket in this directory.
export const DEFAULT_SOCKET_DIR = "/var/run/postgresql";

// Python's urllib.parse.unquote: each run of %XX is decoded as UTF-8 (bad bytes become U+FFFD), anything else is kept.
export function unquote(s: string): string {
  return s.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => Buffer.from(run.replace(/%/g, ""), "hex").toString("utf8"));
}

// Python's urlsplit, the parts dj-database-url reads. Throws (without the URL in the message) where Python raises.
// The port stays text: Python reads it only when asked, after dj-database-url has looked the scheme up.
function urlsplit(url: string) {
  const m = url.match(/^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s);
  if (!m) throw new Error("it has no scheme");
  const scheme = (m[1] as string).toLowerCase();
  let rest = m[2] as string;
  let netloc = "";
  if (rest.startsWith("//")) {
    const end = rest.slice(2).search(/[/?#]/);
    netloc = end === -1 ? rest.slice(2) : rest.slice(2, 2 + end);
    rest = end === -1 ? "" : rest.slice(2 + end);
  }
  rest = rest.split("#")[0] as string;
  const q = rest.indexOf("?");
  const path = q === -1 ? rest : rest.slice(0, q);
  const query = q === -1 ? "" : rest.slice(q + 1);
  const at = netloc.lastIndexOf("@");
  const userinfo = at === -1 ? undefined : netloc.slice(0, at);
  const hostport = netloc.slice(at + 1);
  const colon = userinfo?.indexOf(":") ?? -1;
  const username = userinfo === undefined ? undefined : colon === -1 ? userinfo : userinfo.slice(0, colon);
  const password = userinfo === undefined || colon === -1 ? undefined : (userinfo as string).slice(colon + 1);
  let hostname: string;
  let portText: string | undefined;
  if (hostport.startsWith("[")) {
    const close = hostport.indexOf("]");
    if (close === -1) throw new Error("its IPv6 host has no closing ]");
    hostname = hostport.slice(1, close);
    const after = hostport.slice(close + 1);
    portText = after.startsWith(":") ? after.slice(1) : undefined;
  } else {
    const c = hostport.indexOf(":");
    hostname = c === -1 ? hostport : hostport.slice(0, c);
    portText = c === -1 ? undefined : hostport.slice(c + 1);
  }
  return { scheme, netloc, path, query, username, password, hostname: hostname.toLowerCase(), portText };
}

// Reads DATABASE_URL exactly as dj-database-url's parse() does (scheme table, percent-encoded socket host, query
// parameters handed to libpq); the reason of an unreadable URL never contains the URL (it holds the password).
export function readDatabaseUrl(url: string | undefined): DbUrl {
  if (!url) return { kind: "unset" };
  let u: ReturnType<typeof urlsplit>;
  try {
    u = urlsplit(url);
  } catch (err) {
    return { kind: "unreadable", reason: (err as Error).message };
  }
  if (!PG_SCHEMES.includes(u.scheme)) {
    if (OTHER_SCHEMES.includes(u.scheme)) return { kind: "other", scheme: u.scheme };
    return { kind: "unreadable", reason: `dj-database-url has no engine for the scheme ${JSON.stringify(u.scheme)} (PostgreSQL: ${PG_SCHEMES.join(", ")})` };
  }
  let port: number | undefined;
  if (u.portText) {
    // Never echo the text: with a "/" in the password, the password's start lands here.
    if (!/^[0-9]+$/.test(u.portText))
      return { kind: "unreadable", reason: "its port is not a number (a password with '/', '?' or '#' must be percent-encoded)" };
    port = Number(u.portText);
    if (port > 65535) return { kind: "unreadable", reason: "its port is out of range 0-65535" };
  }
  // dj-database-url: a hostname with % is the raw netloc after the last @, unquoted (so :port stays in it).
  let host = u.hostname;
  if (host.includes("%")) host = unquote(u.netloc.slice(u.netloc.lastIndexOf("@") + 1));
  const params: Record<string, string> = {};
  for (const pair of u.query.split(/[&;]/).filter(Boolean)) {
    const eq = pair.indexOf("=");
    if (eq === -1) continue; // parse_qs drops blank values
    const value = unquote(pair.slice(eq + 1).replace(/\+/g, " "));
    if (value) params[unquote(pair.slice(0, eq).replace(/\+/g, " "))] = value; // the last one wins
  }
  if (params.currentSchema) {
    params.options = `-c search_path=${params.currentSchema}`;
    delete params.currentSchema;
  }
  const { sslmode, ...rest } = params;
  const target: DbTarget = {
    host: host || DEFAULT_SOCKET_DIR,
    port: port || 5432,
    user: unquote(u.username ?? ""),
    password: unquote(u.password ?? ""),
    database: unquote(u.path.slice(1)),
  };
  if (sslmode) target.sslmode = sslmode;
  if (Object.keys(rest).length) target.params = rest;
  return { kind: "postgres", scheme: u.scheme, target };
}

// The PostgreSQL target of DATABASE_URL, or undefined when it is absent, unreadable or another engine.
export function parseDatabaseUrl(url: string | undefined): DbTarget | undefined {
  const r = readDatabaseUrl(url);
  return r.kind === "postgres" ? r.target : undefined;
}

// The message for a DATABASE_URL we cannot connect with, secrets left out.
export function describeDatabaseUrl(r: Exclude<DbUrl, { kind: "postgres" }>, source: string): string {
  if (r.kind === "unset") return `DATABASE_URL is not set in ${source}; Django would fall back to SQLite`;
  if (r.kind === "other") return `DATABASE_URL in ${source} names a ${r.scheme} database, not PostgreSQL`;
  return `DATABASE_URL in ${source} cannot be read: ${r.reason}`;
}

type Ssl = pg.ClientConfig["ssl"];

// libpq's sslmode as node-postgres settings: the first attempt, and the fallback libpq makes for prefer/allow.
async function sslFor(ctx: ProbeContext, t: DbTarget): Promise<{ first: Ssl; fallback?: Ssl }> {
  const mode = t.sslmode ?? "prefer"; // libpq's default
  const read = (p: string | undefined) => (p && p !== "system" ? ctx.transport.readFile(p) : Promise.resolve(undefined));
  const p = t.params ?? {};
  const [ca, cert, key] = await Promise.all([read(p.sslrootcert), read(p.sslcert), read(p.sslkey)]);
  const files = { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
  const skipHostCheck = { checkServerIdentity: () => undefined };
  if (t.host.startsWith("/")) return { first: false }; // Unix sockets never use SSL
  switch (mode) {
    case "disable":
      return { first: false };
    case "allow":
      return { first: false, fallback: { ...files, rejectUnauthorized: false } };
    case "prefer":
      return { first: { ...files, rejectUnauthorized: false }, fallback: false };
    case "require": // with a root certificate, libpq verifies the chain as verify-ca does
      return { first: ca ? { ...files, ...skipHostCheck } : { ...files, rejectUnauthorized: false } };
    case "verify-ca":
      return { first: { ...files, ...skipHostCheck } };
    case "verify-full":
      return { first: files };
    default:
      throw new Error(`DATABASE_URL asks for sslmode=${JSON.stringify(mode)}, which libpq does not know`);
  }
}

export type DbConnection = { ok: true; client: pg.Client; target: DbTarget } | { ok: false; reason: string; target?: DbTarget };

function describeTarget(t: DbTarget) {
  return `${t.user}@${t.host}:${t.port}/${t.database}`;
}

// One connection for the run, with the credentials the service really runs with.
export function dbConnection(ctx: ProbeContext): Promise<DbConnection> {
  return ctx.once("db:connection", async () => {
    // Imported here: app-database.ts builds on this module's URL reading.
    const { appDatabase } = await import("./app-database.ts");
    const app = await appDatabase(ctx);
    if (!app.ok) return { ok: false, reason: app.why };
    const target = app.target;
    const ssl = await sslFor(ctx, target);
    const t = ctx.config.timeouts.dbMs;
    const host = await pgAddress(ctx, target.host, target.port);
    const connect = async (s: Ssl) => {
      const client = new pg.Client({
        host,
        port: target.port,
        user: target.user,
        password: target.password,
        database: target.database,
        ssl: s,
        ...(target.params?.options ? { options: target.params.options } : {}),
        connectionTimeoutMillis: t,
        statement_timeout: t,
        query_timeout: t + 500,
        application_name: "django-deploy-validator",
      });
      client.on("error", () => {}); // a server going away mid-run must not crash the run
      try {
        await client.connect();
        return client;
      } catch (err) {
        await client.end().catch(() => {});
        throw err;
      }
    };
    let client: pg.Client;
    try {
      client = await connect(ssl.first).catch((err: Error) => {
        // libpq's prefer/allow: the other way when the first is refused (no SSL on the server, or a hostssl-only line).
        if (ssl.fallback === undefined || (err as { code?: string }).code === "ECONNREFUSED") throw err;
        return connect(ssl.fallback);
      });
    } catch (err) {
      const e = err as Error & { code?: string };
      // Over a Unix socket with peer authentication, PostgreSQL compares OUR OS user (root) with the role: the
      // service's own user would pass, so a refusal here does not tell whether its credentials work.
      if (target.host.startsWith("/") && /peer authentication failed/i.test(e.message))
        throw new TransportError(
          `cannot test ${describeTarget(target)}: the socket uses peer authentication, which checks the validator's OS user, not the service's`,
          "EPEER",
        );
      return { ok: false, target, reason: `${describeTarget(target)}: ${e.code ? `${e.code} ` : ""}${e.message}` };
    }
    ctx.onClose(() => Promise.race([client.end(), new Promise<void>((r) => setTimeout(r, 1_000).unref())]), "db:connection");
    return { ok: true, client, target };
  });
}

// The last query queued on each connection: node-postgres runs one query at a time and deprecates queueing itself.
const tails = new WeakMap<pg.Client, Promise<unknown>>();

// Runs one query on the shared connection (memoised by SQL text), after the queries queued before it.
export function dbQuery<T extends Record<string, unknown>>(ctx: ProbeContext, client: pg.Client, sql: string): Promise<T[]> {
  return ctx.once(`db:q:${sql}`, () => {
    const run = (tails.get(client) ?? Promise.resolve()).catch(() => {}).then(async () => (await client.query<T>(sql)).rows);
    tails.set(client, run);
    return run;
  });
}
