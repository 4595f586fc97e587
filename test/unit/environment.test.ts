import { describe, expect, test } from "vitest";
import { parseEnvFile, redact, secretValues } from "../../src/probes/environment.ts";
import { parseDatabaseUrl } from "../../src/probes/postgres.ts";

describe("env files and secrets", () => {
  test("parseEnvFile reads KEY=value with quotes, comments and export", () => {
    const env = parseEnvFile("# comment\nDEBUG=False\nSECRET_KEY='a b$c'\nexport X=\"1\"\n\nbroken line\n");
    expect(env).toEqual({ DEBUG: "False", SECRET_KEY: "a b$c", X: "1" });
  });

  test("secretValues finds SECRET_KEY and the password inside DATABASE_URL, and redact hides both", () => {
    const env = { SECRET_KEY: "k".repeat(10) + "XyZ", DATABASE_URL: "postgres://app:p%40ssw0rd@localhost/db", DEBUG: "False" };
    const secrets = secretValues(env);
    expect(secrets).toContain("p@ssw0rd");
    const text = `key=${env.SECRET_KEY} url=${env.DATABASE_URL} decoded=p@ssw0rd`;
    const out = redact(text, secrets);
    expect(out).not.toContain("XyZ");
    expect(out).not.toContain("ssw0rd");
    expect(out).toContain("[REDACTED]");
  });

  test("parseDatabaseUrl decodes credentials and refuses other schemes", () => {
    expect(parseDatabaseUrl("postgres://u:p%3Aw@db.example:6543/name")).toEqual({ host: "db.example", port: 6543, user: "u", password: "p:w", database: "name" });
    expect(parseDatabaseUrl("sqlite:////tmp/db.sqlite3")).toBeUndefined();
    expect(parseDatabaseUrl(undefined)).toBeUndefined();
  });
});
