import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
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
  quoteLiteral,
  roleStateSql,
  scramVerifier,
  setPasswordSql,
  type RoleState,
} from "../../src/remediation/fixes/database-sql.ts";

const recorded = JSON.parse(readFileSync(path.join(import.meta.dirname, "../recorded/pg-verifiers.json"), "utf8"));
const healthy: RoleState = { canLogin: true, connLimit: -1, validUntil: null, expired: false, password: "SCRAM-SHA-256$4096:x$y:z" };

describe("SQL quoting", () => {
  it("double-quotes identifiers and doubles embedded quotes", () => {
    expect(quoteIdent("projectmeats_user")).toBe('"projectmeats_user"');
    expect(quoteIdent('we"ird Role')).toBe('"we""ird Role"');
  });
  it("quotes literals as PQescapeLiteral does, E'' only with a backslash", () => {
    expect(quoteLiteral("it's")).toBe("'it''s'");
    expect(quoteLiteral("a\\b'c")).toBe(" E'a\\\\b''c'");
  });
  it("refuses NUL bytes", () => {
    expect(() => quoteIdent("a\0b")).toThrow();
    expect(() => quoteLiteral("a\0b")).toThrow();
  });
  it("puts the role name in the role query as a literal (no injection)", () => {
    expect(roleStateSql("x'; drop role postgres; --")).toContain("rolname = 'x''; drop role postgres; --'");
  });
});

describe("which role attributes to change", () => {
  it("changes nothing on a role that may log in", () => {
    expect(loginRepairs(healthy)).toEqual([]);
    expect(loginRepairs({ ...healthy, connLimit: 5, validUntil: "infinity" })).toEqual([]);
  });
  it("fixes only what is wrong, each with its undo", () => {
    const r = loginRepairs({ ...healthy, connLimit: 0 });
    expect(r.map((x) => x.set)).toEqual(["CONNECTION LIMIT -1"]);
    expect(
      alterRole(
        "app",
        r.map((x) => x.undo),
      ),
    ).toBe('ALTER ROLE "app" CONNECTION LIMIT 0;');
  });
  it("NOLOGIN and an expired VALID UNTIL together; undo restores the old date", () => {
    const r = loginRepairs({ ...healthy, canLogin: false, validUntil: "2024-01-01T00:00:00+00:00", expired: true });
    expect(
      alterRole(
        "app",
        r.map((x) => x.set),
      ),
    ).toBe(`ALTER ROLE "app" LOGIN VALID UNTIL 'infinity';`);
    expect(
      alterRole(
        "app",
        r.map((x) => x.undo),
      ),
    ).toBe(`ALTER ROLE "app" NOLOGIN VALID UNTIL '2024-01-01T00:00:00+00:00';`);
  });
  it("no statement for no clauses", () => {
    expect(alterRole("app", [])).toBe("");
  });
});

describe("the role's state as psql answers it", () => {
  it("no row: the role does not exist", () => {
    expect(parseRoleState("\n")).toBeUndefined();
  });
  it("reads the JSON object", () => {
    const s = parseRoleState('{"canLogin" : true, "connLimit" : 0, "validUntil" : null, "expired" : false, "password" : "md5abc"}\n');
    expect(s).toEqual({ canLogin: true, connLimit: 0, validUntil: null, expired: false, password: "md5abc" });
  });
  it("throws on anything else", () => {
    expect(() => parseRoleState("ERROR")).toThrow();
    expect(() => parseRoleState('{"canLogin": "yes"}')).toThrow();
  });
});

describe("password against the stored verifier (recorded from PostgreSQL 15)", () => {
  it("matches a real SCRAM-SHA-256 verifier", () => {
    expect(passwordMatches(recorded.password, recorded.scram.rolpassword, recorded.scram.role)).toBe(true);
    expect(passwordMatches("Tr0ub4dor&4", recorded.scram.rolpassword, recorded.scram.role)).toBe(false);
  });
  it("matches a real MD5 verifier (salted with the role name)", () => {
    expect(passwordMatches(recorded.password, recorded.md5.rolpassword, recorded.md5.role)).toBe(true);
    expect(passwordMatches(recorded.password, recorded.md5.rolpassword, "other")).toBe(false);
  });
  it("no stored password never matches; cannot tell for non-ASCII or unknown formats", () => {
    expect(passwordMatches("x", null, "app")).toBe(false);
    expect(passwordMatches("pässwort", recorded.scram.rolpassword, "app")).toBeUndefined();
    expect(passwordMatches("x", "plain", "app")).toBeUndefined();
  });
  it("builds the verifier PostgreSQL built, given its salt", () => {
    const [, iter, salt] = recorded.scram.rolpassword.match(/^SCRAM-SHA-256\$(\d+):([^$]+)\$/);
    expect(scramVerifier(recorded.password, Buffer.from(salt, "base64"), Number(iter))).toBe(recorded.scram.rolpassword);
  });
  it("a fresh verifier has a random salt and verifies", () => {
    const v = scramVerifier("s3cret-'quoted'\\");
    expect(v).not.toBe(scramVerifier("s3cret-'quoted'\\"));
    expect(passwordMatches("s3cret-'quoted'\\", v, "any")).toBe(true);
  });
  it("the password statement keeps itself out of the server log and quotes the verifier", () => {
    const sql = setPasswordSql('a"b', "it's");
    expect(sql).toMatch(/^SET log_statement = 'none';/);
    expect(sql).toContain(`ALTER ROLE "a""b" PASSWORD 'it''s';`);
    expect(setPasswordSql("app", null)).toContain('ALTER ROLE "app" PASSWORD NULL;');
  });
});

describe("grants for DB-003", () => {
  it("reads psql's answer; no row for a missing role", () => {
    expect(parsePrivileges("")).toBeUndefined();
    expect(parsePrivileges('{"connect" : true, "temp" : true, "usage" : true, "create" : false}')).toEqual({
      connect: true,
      temp: true,
      usage: true,
      create: false,
    });
  });
  it("grants only what is missing and revokes exactly that", () => {
    const g = grantsFor({ connect: true, temp: true, usage: true, create: false }, "app", "db");
    expect(g.grant).toEqual(['GRANT CREATE ON SCHEMA public TO "app";']);
    expect(g.revoke).toEqual(['REVOKE CREATE ON SCHEMA public FROM "app";']);
    expect(g.missing).toEqual(["CREATE on schema public"]);
  });
  it("database and schema privileges together, identifiers quoted", () => {
    const g = grantsFor({ connect: false, temp: false, usage: false, create: false }, "App", "my-db");
    expect(g.grant).toEqual(['GRANT CONNECT, TEMPORARY ON DATABASE "my-db" TO "App";', 'GRANT USAGE, CREATE ON SCHEMA public TO "App";']);
    expect(g.revoke).toEqual(['REVOKE CONNECT, TEMPORARY ON DATABASE "my-db" FROM "App";', 'REVOKE USAGE, CREATE ON SCHEMA public FROM "App";']);
  });
  it("nothing when everything is there", () => {
    expect(grantsFor({ connect: true, temp: true, usage: true, create: true }, "app", "db").grant).toEqual([]);
  });
});

describe("migrate's undo text from showmigrations --plan", () => {
  const plan = `[X]  contenttypes.0001_initial
[X]  auth.0001_initial
[X]  suppliers.0001_initial
[ ]  suppliers.0002_supplier_notes
[ ]  invoices.0001_initial
[ ]  invoices.0002_more
`;
  it("lists what migrate applies and where each app goes back to", () => {
    const u = migrationUndo(parseMigrationPlan(plan));
    expect(u.pending).toEqual(["suppliers.0002_supplier_notes", "invoices.0001_initial", "invoices.0002_more"]);
    expect(u.back).toEqual([
      { app: "suppliers", to: "0001_initial" },
      { app: "invoices", to: "zero" },
    ]);
  });
  it("reads Django's real output (recorded on the unapplied-migration host)", () => {
    const real = readFileSync(path.join(import.meta.dirname, "../recorded/showmigrations-plan-unapplied.txt"), "utf8");
    const plan = parseMigrationPlan(real);
    expect(plan).toHaveLength(22);
    expect(migrationUndo(plan)).toEqual({ pending: ["suppliers.0002_supplier_notes"], back: [{ app: "suppliers", to: "0001_initial" }] });
  });
  it("nothing pending, nothing to undo", () => {
    expect(migrationUndo(parseMigrationPlan("[X]  auth.0001_initial\n"))).toEqual({ pending: [], back: [] });
  });
});
