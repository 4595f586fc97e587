import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";
import { z } from "zod";

// The pure half of the database fixes: quoting, the SQL they send, and what they decide to change.

// An SQL identifier, always double-quoted (a role named "Order" or `a"b` stays itself), as quote_ident would.
export function quoteIdent(name: string): string {
  if (name.includes("\0")) throw new Error("an SQL identifier cannot hold a NUL byte");
  return `"${name.replace(/"/g, '""')}"`;
}

// An SQL string literal as libpq's PQescapeLiteral writes it: quotes doubled, and with a backslash the E'' form
// with backslashes doubled, so it means the same whatever standard_conforming_strings says.
export function quoteLiteral(s: string): string {
  if (s.includes("\0")) throw new Error("an SQL literal cannot hold a NUL byte");
  const body = s.replace(/'/g, "''");
  return s.includes("\\") ? ` E'${body.replace(/\\/g, "\\\\")}'` : `'${body}'`;
}

// What pg_authid says of a role, read as postgres (the stored password is a secret: never print it).
const RoleStateSchema = z.object({
  canLogin: z.boolean(),
  connLimit: z.number(),
  validUntil: z.string().nullable(),
  expired: z.boolean(),
  password: z.string().nullable(),
});
export type RoleState = z.infer<typeof RoleStateSchema>;

// Parses psql's one-JSON-object answer: undefined for no row; throws (never guesses) on anything else.
function parseJsonAnswer<T>(stdout: string, schema: z.ZodType<T>, what: string): T | undefined {
  const text = stdout.trim();
  if (!text) return undefined;
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    throw new Error(`psql did not answer ${what} as JSON`);
  }
  const r = schema.safeParse(j);
  if (!r.success) throw new Error(`psql's answer about ${what} is not the expected shape`);
  return r.data;
}

// One JSON object for a role, or no row when it does not exist (read as postgres: pg_authid is superuser-only).
export function roleStateSql(role: string): string {
  return (
    "select json_build_object('canLogin', rolcanlogin, 'connLimit', rolconnlimit, 'validUntil', rolvaliduntil, " +
    `'expired', coalesce(rolvaliduntil < now(), false), 'password', rolpassword)
  from pg_authid where rolname = ${quoteLiteral(role)}`
  );
}

// Parses psql's answer to roleStateSql: undefined when the role does not exist; throws on anything else.
export function parseRoleState(stdout: string): RoleState | undefined {
  return parseJsonAnswer(stdout, RoleStateSchema, "the role's state");
}

// The ALTER ROLE clauses that let a role log in again, each with the clause that puts the old value back.
// Only what is wrong: NOLOGIN, CONNECTION LIMIT 0, a VALID UNTIL in the past.
export function loginRepairs(s: RoleState): Array<{ what: string; set: string; undo: string }> {
  const out = [];
  if (!s.canLogin) out.push({ what: "NOLOGIN", set: "LOGIN", undo: "NOLOGIN" });
  if (s.connLimit === 0) out.push({ what: "CONNECTION LIMIT 0", set: "CONNECTION LIMIT -1", undo: "CONNECTION LIMIT 0" });
  if (s.expired && s.validUntil !== null)
    out.push({ what: `VALID UNTIL ${s.validUntil} (expired)`, set: "VALID UNTIL 'infinity'", undo: `VALID UNTIL ${quoteLiteral(s.validUntil)}` });
  return out;
}

// ALTER ROLE with clauses (empty list: no statement).
export function alterRole(role: string, clauses: string[]): string {
  return clauses.length ? `ALTER ROLE ${quoteIdent(role)} ${clauses.join(" ")};` : "";
}

// Keeps the statement out of the server log (a stored verifier is still a secret); we run as superuser.
const QUIET = "SET log_statement = 'none'; SET log_min_error_statement = 'panic'; SET log_min_duration_statement = -1;\n";

// ALTER ROLE ... PASSWORD with a verifier (or NULL), not logged. PostgreSQL stores a SCRAM or MD5 verifier as given.
export function setPasswordSql(role: string, verifier: string | null): string {
  return `${QUIET}ALTER ROLE ${quoteIdent(role)} PASSWORD ${verifier === null ? "NULL" : quoteLiteral(verifier)};`;
}

const b64 = (b: Buffer) => b.toString("base64");
const hmac = (key: Buffer, text: string) => createHmac("sha256", key).update(text).digest();

// True when SASLprep leaves the password as it is, so PostgreSQL hashes these very bytes: printable ASCII (ASCII
// control characters make SASLprep fail, and PostgreSQL then uses the raw bytes too).
export function saslprepIsIdentity(password: string): boolean {
  return /^[\x00-\x7f]*$/.test(password);
}

function scramKeys(password: string, salt: Buffer, iterations: number) {
  const salted = pbkdf2Sync(Buffer.from(password, "utf8"), salt, iterations, 32, "sha256");
  return { storedKey: createHash("sha256").update(hmac(salted, "Client Key")).digest(), serverKey: hmac(salted, "Server Key") };
}

// A SCRAM-SHA-256 verifier as PostgreSQL stores it (what psql's \password sends: the password never reaches the server).
export function scramVerifier(password: string, salt: Buffer = randomBytes(16), iterations = 4096): string {
  const k = scramKeys(password, salt, iterations);
  return `SCRAM-SHA-256$${iterations}:${b64(salt)}$${b64(k.storedKey)}:${b64(k.serverKey)}`;
}

// Whether `password` is the one a stored verifier was made from: true, false, or undefined when we cannot tell
// (no verifier stored, a non-ASCII password SASLprep would rewrite, an unknown format).
export function passwordMatches(password: string, stored: string | null, role: string): boolean | undefined {
  if (stored === null) return false;
  const md5 = stored.match(/^md5([0-9a-f]{32})$/);
  if (md5)
    return (
      createHash("md5")
        .update(password + role)
        .digest("hex") === md5[1]
    );
  const m = stored.match(/^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/);
  if (!m || !saslprepIsIdentity(password)) return undefined;
  const k = scramKeys(password, Buffer.from(m[2] as string, "base64"), Number(m[1]));
  const want = Buffer.from(m[3] as string, "base64");
  return want.length === k.storedKey.length && timingSafeEqual(want, k.storedKey);
}

// The privileges DB-003 tests, as the role (not current_user) has them, read as postgres on the app's database;
// no row when the role does not exist, schema null when there is no schema public.
export function privilegesSql(role: string): string {
  const r = quoteLiteral(role);
  return (
    "select json_build_object('connect', has_database_privilege(r.oid, current_database(), 'CONNECT'), " +
    `'temp', has_database_privilege(r.oid, current_database(), 'TEMP'),
    'usage', case when to_regnamespace('public') is null then null else has_schema_privilege(r.oid, 'public', 'USAGE') end,
    'create', case when to_regnamespace('public') is null then null else has_schema_privilege(r.oid, 'public', 'CREATE') end)
  from pg_roles r where r.rolname = ${r}`
  );
}

const PrivilegesSchema = z.object({ connect: z.boolean(), temp: z.boolean(), usage: z.boolean().nullable(), create: z.boolean().nullable() });
export type Privileges = z.infer<typeof PrivilegesSchema>;

// Parses psql's answer to privilegesSql (undefined: no such role).
export function parsePrivileges(stdout: string): Privileges | undefined {
  return parseJsonAnswer(stdout, PrivilegesSchema, "the role's privileges");
}

// GRANTs for what is missing, and the REVOKEs that take back exactly those (nothing else).
export function grantsFor(p: Privileges, role: string, database: string): { grant: string[]; revoke: string[]; missing: string[] } {
  const db = [...(p.connect ? [] : ["CONNECT"]), ...(p.temp ? [] : ["TEMPORARY"])];
  const schema = [...(p.usage === false ? ["USAGE"] : []), ...(p.create === false ? ["CREATE"] : [])];
  const grant: string[] = [];
  const revoke: string[] = [];
  const r = quoteIdent(role);
  if (db.length) {
    grant.push(`GRANT ${db.join(", ")} ON DATABASE ${quoteIdent(database)} TO ${r};`);
    revoke.push(`REVOKE ${db.join(", ")} ON DATABASE ${quoteIdent(database)} FROM ${r};`);
  }
  if (schema.length) {
    grant.push(`GRANT ${schema.join(", ")} ON SCHEMA public TO ${r};`);
    revoke.push(`REVOKE ${schema.join(", ")} ON SCHEMA public FROM ${r};`);
  }
  return { grant, revoke, missing: [...db.map((x) => `${x} on database ${database}`), ...schema.map((x) => `${x} on schema public`)] };
}

// One line of `showmigrations --plan`: applied or not, app label and migration name.
export type PlannedMigration = { applied: boolean; app: string; name: string };

// Parses `showmigrations --plan` ("[X]  app.0001_initial", "[ ]  app.0002_x"); other lines are skipped.
export function parseMigrationPlan(output: string): PlannedMigration[] {
  const out: PlannedMigration[] = [];
  for (const l of output.split("\n")) {
    const m = l.match(/^\[([ X])\]\s+([^.\s]+)\.(\S+)/);
    if (m) out.push({ applied: m[1] === "X", app: m[2] as string, name: m[3] as string });
  }
  return out;
}

// What migrate will apply and, per app, the migration to go back to by hand (its last applied one, or zero).
export function migrationUndo(plan: PlannedMigration[]): { pending: string[]; back: Array<{ app: string; to: string }> } {
  const pending = plan.filter((m) => !m.applied);
  const apps = [...new Set(pending.map((m) => m.app))];
  const back = apps.map((app) => {
    const first = plan.findIndex((m) => m.app === app && !m.applied);
    const before = plan.slice(0, first).filter((m) => m.app === app && m.applied);
    return { app, to: before.length ? (before[before.length - 1] as PlannedMigration).name : "zero" };
  });
  return { pending: pending.map((m) => `${m.app}.${m.name}`), back };
}
