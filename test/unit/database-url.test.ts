import { describe, expect, test } from "vitest";
import { dbConnection, describeDatabaseUrl, readDatabaseUrl, unquote } from "../../src/probes/postgres.ts";
import { replayContext, replayTransport } from "./replay.ts";
import { healthyCommands } from "./healthy-replay.ts";

const SECRET = "s3cr/t-pw";

describe("DATABASE_URL as dj-database-url reads it", () => {
  test("its four PostgreSQL schemes", () => {
    for (const scheme of ["postgres", "postgresql", "pgsql", "postgis", "PostgreSQL"]) {
      expect(readDatabaseUrl(`${scheme}://u:p@db.example:6543/name`)).toMatchObject({
        kind: "postgres",
        target: { host: "db.example", port: 6543, user: "u", password: "p", database: "name" },
      });
    }
  });

  test("a +driver scheme is not in its table: unreadable, said so, not 'falls back to SQLite'", () => {
    const r = readDatabaseUrl(`postgresql+psycopg://u:${SECRET}@h/db`);
    expect(r).toEqual({
      kind: "unreadable",
      reason: 'dj-database-url has no engine for the scheme "postgresql+psycopg" (PostgreSQL: postgres, postgresql, pgsql, postgis)',
    });
    const msg = describeDatabaseUrl(r as never, "the running process (PID 7)");
    expect(msg).toMatch(/^DATABASE_URL in the running process \(PID 7\) cannot be read: /);
    expect(msg).not.toContain("SQLite");
    expect(msg).not.toContain(SECRET);
  });

  test("another engine is another engine; absent is absent", () => {
    expect(readDatabaseUrl("sqlite:////tmp/db.sqlite3")).toEqual({ kind: "other", scheme: "sqlite" });
    expect(describeDatabaseUrl({ kind: "other", scheme: "mysql" }, "env")).toBe("DATABASE_URL in env names a mysql database, not PostgreSQL");
    expect(readDatabaseUrl(undefined)).toEqual({ kind: "unset" });
    expect(readDatabaseUrl("")).toEqual({ kind: "unset" });
    expect(describeDatabaseUrl({ kind: "unset" }, "env")).toContain("Django would fall back to SQLite");
  });

  test("a '/' in an unencoded password makes the port unreadable; the message holds no part of it", () => {
    const r = readDatabaseUrl(`postgres://u:${SECRET}@localhost:5432/db`);
    expect(r.kind).toBe("unreadable");
    expect(JSON.stringify(r)).not.toMatch(/s3cr|t-pw/);
    expect(readDatabaseUrl("postgres://u:p@h:99999/db")).toEqual({ kind: "unreadable", reason: "its port is out of range 0-65535" });
    expect(readDatabaseUrl("not a url").kind).toBe("unreadable");
  });

  test("query parameters go to libpq: sslmode, options, currentSchema", () => {
    expect(readDatabaseUrl("postgres://u:p@h/db?sslmode=require&application_name=shop")).toMatchObject({
      target: { sslmode: "require", params: { application_name: "shop" } },
    });
    expect(readDatabaseUrl("postgres://u:p@h/db?currentSchema=app")).toMatchObject({ target: { params: { options: "-c search_path=app" } } });
    expect(readDatabaseUrl("postgres://u:p@h/db?sslmode=disable&sslmode=verify-full")).toMatchObject({ target: { sslmode: "verify-full" } });
  });

  test("a percent-encoded socket directory is the host; an empty host is Debian's socket directory", () => {
    expect(readDatabaseUrl("postgres://%2Fvar%2Frun%2Fpostgresql/db")).toMatchObject({
      target: { host: "/var/run/postgresql", port: 5432, user: "", database: "db" },
    });
    expect(readDatabaseUrl("postgres://u:p@%2Fsrv%2FPG/db")).toMatchObject({ target: { host: "/srv/PG", user: "u" } }); // case kept
    // dj-database-url keeps ":port" in a percent-encoded host (it reads the raw netloc), and so do we
    expect(readDatabaseUrl("postgres://u:p@%2Ftmp:5433/db")).toMatchObject({ target: { host: "/tmp:5433", port: 5433 } });
    expect(readDatabaseUrl("postgres://u@/db")).toMatchObject({ target: { host: "/var/run/postgresql", user: "u", password: "" } });
  });

  test("credentials are unquoted as Python's unquote does", () => {
    expect(readDatabaseUrl("postgres://u:p%3Aw%40x@h/db")).toMatchObject({ target: { password: "p:w@x" } });
    expect(readDatabaseUrl("postgres://u:50%off@h/db")).toMatchObject({ target: { password: "50%off" } });
    expect(readDatabaseUrl("postgres://u:a@b@h/db")).toMatchObject({ target: { host: "h", password: "a@b" } }); // last @ splits
    expect(readDatabaseUrl("postgres://u:p@[::1]:5433/db")).toMatchObject({ target: { host: "::1", port: 5433 } });
    expect(unquote("caf%C3%A9%zz")).toBe("café%zz");
  });

  test("DB-001's reason for an unreadable URL says so and leaks nothing", async () => {
    const ctx = replayContext(replayTransport(healthyCommands()));
    // The service's environment as environment.ts would find it (its memo), so this tests only the URL's reading.
    void ctx.once("env:service", async () => ({
      source: "the running process (PID 70)",
      env: { DATABASE_URL: `postgresql+psycopg2://app:${SECRET}@localhost/app` },
    }));
    const c = await dbConnection(ctx);
    expect(c).toEqual({
      ok: false,
      reason: expect.stringMatching(
        /^DATABASE_URL in the running process \(PID 70\) cannot be read: dj-database-url has no engine for the scheme "postgresql\+psycopg2"/,
      ),
    });
    expect(JSON.stringify(c)).not.toContain(SECRET);
  });
});
