import { describe, expect, test } from "vitest";
import { parseEnvFile, redact, secretValues } from "../../src/probes/environment.ts";
import { parseDatabaseUrl } from "../../src/probes/postgres.ts";
import { ProbeContext } from "../../src/probes/context.ts";
import { ConfigSchema } from "../../src/config/schema.ts";

describe("env files and secrets", () => {
  test("parseEnvFile reads KEY=value with quotes and comments, and ignores `export X=` as systemd does", () => {
    const env = parseEnvFile("# comment\nDEBUG=False\nSECRET_KEY='a b$c'\nexport X=\"1\"\n\nbroken line\n");
    expect(env).toEqual({ DEBUG: "False", SECRET_KEY: "a b$c" });
  });

  test("secretValues finds SECRET_KEY and the password inside DATABASE_URL, and redact hides both", () => {
    const env = { SECRET_KEY: `${"k".repeat(10)}XyZ`, DATABASE_URL: "postgres://app:p%40ssw0rd@localhost/db", DEBUG: "False" };
    const secrets = secretValues(env);
    expect(secrets).toContain("p@ssw0rd");
    const text = `key=${env.SECRET_KEY} url=${env.DATABASE_URL} decoded=p@ssw0rd`;
    const out = redact(text, secrets);
    expect(out).not.toContain("XyZ");
    expect(out).not.toContain("ssw0rd");
    expect(out).toContain("[REDACTED]");
  });

  test.each([
    ["a password that is not a valid escape", "postgres://app:50%off!!@localhost/db", ["50%off!!"]],
    ["a password with a raw @ (userinfo ends at the last @)", "postgres://app:p@ss@word@localhost/db", ["p@ss@word"]],
  ])("secretValues copes with %s", (_label, url, expected) => {
    expect(secretValues({ DATABASE_URL: url })).toEqual(expect.arrayContaining(expected));
  });

  test("variables named like secrets are secrets (DB_PASS, API_TOKEN); names merely containing PASS are not", () => {
    expect(
      secretValues({ DB_PASS: "hunter22", API_TOKEN: "tok-123456", DEBUG: "False", PASSWORD_RESET_TIMEOUT: "3600", BYPASS_CACHE: "yes-please" }).sort(),
    ).toEqual(["hunter22", "tok-123456"]);
  });

  test("clip redacts before it shortens, so no part of a secret survives the cut", () => {
    const ctx = new ProbeContext(ConfigSchema.parse({}), {} as never);
    ctx.secrets = ["s3cr3t-value-that-is-long"];
    const out = ctx.clip("body: s3cr3t-value-that-is-long and more", 16);
    expect(out).toBe("body: [REDACTED]");
    expect(ctx.clip("x s3cr3t-value-that-is-long", 10)).not.toContain("s3cr");
  });

  test("parseDatabaseUrl decodes credentials and refuses other schemes", () => {
    expect(parseDatabaseUrl("postgres://u:p%3Aw@db.example:6543/name")).toEqual({
      host: "db.example",
      port: 6543,
      user: "u",
      password: "p:w",
      database: "name",
    });
    expect(parseDatabaseUrl("sqlite:////tmp/db.sqlite3")).toBeUndefined();
    expect(parseDatabaseUrl(undefined)).toBeUndefined();
    expect(parseDatabaseUrl("postgres://u:50%off@h/db")?.password).toBe("50%off");
  });
});
