import { appDatabase } from "./app-database.ts";
import { z } from "zod";
import { TransportError } from "../transport/types.ts";
import type { ProbeContext } from "./context.ts";
import { DEFAULT_SOCKET_DIR, type DbTarget } from "./postgres.ts";

// PostgreSQL's default port: the cluster read when DATABASE_URL names none.
const DEFAULT_PORT = 5432;

// One rule of pg_hba.conf as PostgreSQL itself parses it (the pg_hba_file_rules view, PostgreSQL 10+).
export const HbaRuleSchema = z.object({
  line_number: z.number().nullable(),
  type: z.string().nullable(),
  database: z.array(z.string()).nullable(),
  user_name: z.array(z.string()).nullable(),
  address: z.string().nullable(),
  netmask: z.string().nullable(),
  auth_method: z.string().nullable(),
  error: z.string().nullable(),
});
export type HbaRule = z.infer<typeof HbaRuleSchema>;

// What the local cluster says about its own exposure, read as its superuser.
export const ServerFactsSchema = z.object({
  hba_file: z.string(),
  listen_addresses: z.string(),
  password_encryption: z.string(),
  // Roles whose stored password is an MD5 hash (names only; pg_authid is superuser-only).
  md5_roles: z.array(z.string()),
  hba: z.array(HbaRuleSchema),
});
export type ServerFacts = z.infer<typeof ServerFactsSchema>;

// One JSON object, so one psql call serves every exposure check.
export const SERVER_FACTS_SQL = `select json_build_object(
  'hba_file', current_setting('hba_file'),
  'listen_addresses', current_setting('listen_addresses'),
  'password_encryption', current_setting('password_encryption'),
  'md5_roles', (select coalesce(json_agg(rolname order by rolname), '[]'::json) from pg_authid where rolpassword like 'md5%'),
  'hba', (select coalesce(json_agg(json_build_object('line_number', line_number, 'type', type, 'database', database, 'user_name', user_name,
           'address', address, 'netmask', netmask, 'auth_method', auth_method, 'error', error) order by line_number), '[]'::json) from pg_hba_file_rules))`;

// The cluster the app uses, as psql's -h/-p: its socket directory, or Debian's when the app connects over TCP.
export function psqlTarget(t: DbTarget | undefined): { socketDir: string; port: number } {
  return { socketDir: t?.host.startsWith("/") ? t.host : DEFAULT_SOCKET_DIR, port: t?.port ?? DEFAULT_PORT };
}

// Parses psql's answer to SERVER_FACTS_SQL; throws (never guesses) when it is not that object.
export function parseServerFacts(stdout: string): ServerFacts {
  let json: unknown;
  try {
    json = JSON.parse(stdout.trim());
  } catch {
    throw new TransportError(`psql did not answer JSON: ${JSON.stringify(stdout.slice(0, 200))}`, "EPARSE");
  }
  const r = ServerFactsSchema.safeParse(json);
  if (!r.success) throw new TransportError(`psql's answer is not the expected shape: ${r.error.issues[0]?.message ?? "unknown"}`, "EPARSE");
  return r.data;
}

// The local cluster's settings, pg_hba.conf rules and MD5-stored roles, read as the postgres OS user over the
// local socket (pg_hba_file_rules and pg_authid need a superuser; the app's role must not be one).
export function serverFacts(ctx: ProbeContext): Promise<ServerFacts & { socketDir: string; port: number }> {
  return ctx.once("pg:server-facts", async () => {
    const db = await appDatabase(ctx);
    const where = psqlTarget(db.ok ? db.target : undefined);
    const argv = [
      "runuser",
      "-u",
      "postgres",
      "--",
      "psql",
      "-XAtq",
      "-v",
      "ON_ERROR_STOP=1",
      "-h",
      where.socketDir,
      "-p",
      String(where.port),
      "-d",
      "postgres",
      "-c",
      SERVER_FACTS_SQL,
    ];
    const r = await ctx.transport.run(argv, { cwd: "/", timeoutMs: ctx.config.timeouts.commandMs });
    if (r.exitCode !== 0)
      throw new TransportError(
        `psql as postgres on ${where.socketDir} port ${where.port} exited ${r.exitCode}: ${ctx.clip(r.stderr.trim() || r.stdout.trim(), 300)}`,
        "EPSQL",
      );
    return { ...parseServerFacts(r.stdout), ...where };
  });
}

// True for an address PostgreSQL would only bind on loopback ("localhost", 127.0.0.0/8, ::1).
function isLoopback(a: string): boolean {
  return a === "localhost" || /^127\.\d+\.\d+\.\d+$/.test(a) || a === "::1";
}

// Whether the app's database is this machine's own cluster: a socket directory or a loopback address.
export function isLocalDatabase(t: DbTarget | undefined): boolean {
  return !t || t.host.startsWith("/") || isLoopback(t.host.toLowerCase());
}

// listen_addresses judged against where the app connects: entries beyond loopback, or why they are needed.
export function judgeListen(listen: string, appHost: string | undefined): { wider: string[]; appLocal: boolean } {
  const entries = listen
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const appLocal = appHost === undefined || appHost.startsWith("/") || isLoopback(appHost.toLowerCase());
  return { wider: entries.filter((e) => !isLoopback(e.toLowerCase())), appLocal };
}

// A netmask as the prefix length pg_hba.conf is usually written with (255.255.255.0 -> 24); the mask itself when it is not contiguous.
export function prefixLength(mask: string): string {
  const v4 = mask.includes(".");
  const groups = v4
    ? mask.split(".").map((g) => Number(g).toString(2).padStart(8, "0"))
    : mask.split(":").map((g) =>
        parseInt(g || "0", 16)
          .toString(2)
          .padStart(16, "0"),
      );
  const bits = groups.join("");
  if (mask.includes("::") || !/^1*0*$/.test(bits)) return mask;
  return String(bits.indexOf("0") === -1 ? bits.length : bits.indexOf("0"));
}

// Methods that make the client send its password in clear (PostgreSQL docs: password, and those that pass it on).
const CLEAR_TEXT = ["password", "pam", "ldap", "radius", "bsd"];

// What is wrong with one pg_hba.conf rule, or undefined. trust lets anyone who reaches the line in as any role it
// names; clear-text methods are only safe where the channel is (a Unix socket, hostssl, hostgssenc); ident over
// TCP believes the client host's identd.
export function judgeHbaRule(r: HbaRule): string | undefined {
  const where = `line ${r.line_number ?? "?"}`;
  if (r.error) return `${where} cannot be parsed by PostgreSQL: ${r.error}`;
  // The rule as pg_hba.conf spells it: type, databases, users, address (with its mask), method.
  const addr = r.type === "local" ? "" : ` ${r.address ?? "all"}${r.netmask ? `/${prefixLength(r.netmask)}` : ""}`;
  const rule = `${where} "${r.type} ${(r.database ?? []).join(",")} ${(r.user_name ?? []).join(",")}${addr} ${r.auth_method}"`;
  const clearChannel = r.type === "host" || r.type === "hostnossl";
  if (r.auth_method === "trust") return `${rule}: trust, no password asked`;
  if (r.auth_method && CLEAR_TEXT.includes(r.auth_method) && clearChannel) return `${rule}: the password crosses TCP in clear text (not hostssl)`;
  if (r.auth_method === "ident" && r.type !== "local") return `${rule}: ident over TCP trusts the client host's identd`;
  return undefined;
}

// The app role's attributes and memberships that reach beyond its own database (read on its own connection).
export type RoleFacts = {
  rolname: string;
  rolsuper: boolean;
  rolcreaterole: boolean;
  rolcreatedb: boolean;
  rolreplication: boolean;
  rolbypassrls: boolean;
  powerful: string[];
};

// Roles whose membership gives server-wide power: any superuser, CREATEROLE or REPLICATION role, and the
// predefined roles that read/write server files or run programs as the postgres OS user.
export const ROLE_FACTS_SQL =
  `select r.rolname, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls,
  (select coalesce(json_agg(m.rolname order by m.rolname), '[]'::json) from pg_roles m
    where m.oid <> r.oid and pg_has_role(r.oid, m.oid, 'MEMBER')
      and (m.rolsuper or m.rolcreaterole or m.rolreplication or m.rolname in ` +
  `('pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files'))) as powerful
  from pg_roles r where r.rolname = current_user`;

// What the app role may do beyond its database; CREATEDB and BYPASSRLS are reported, not faulted (Django's
// test runner needs CREATEDB, the project's own installer grants it, and neither reaches other roles' data or the OS).
export function judgeRole(f: RoleFacts): { faults: string[]; notes: string[] } {
  const faults: string[] = [];
  if (f.rolsuper) faults.push("SUPERUSER");
  if (f.rolcreaterole) faults.push("CREATEROLE");
  if (f.rolreplication) faults.push("REPLICATION");
  if (!f.rolsuper && f.powerful.length) faults.push(`member of ${f.powerful.join(", ")}`);
  const notes: string[] = [];
  if (f.rolcreatedb) notes.push("CREATEDB");
  if (f.rolbypassrls) notes.push("BYPASSRLS");
  return { faults, notes };
}
