import { describe, expect, test } from "vitest";
import { databaseChecks } from "../../src/checks/database.ts";
import type { ProbeContext } from "../../src/probes/context.ts";
import { judgeHbaRule, judgeListen, judgeRole, parseServerFacts, prefixLength, type HbaRule, type RoleFacts } from "../../src/probes/postgres-server.ts";
import { TransportError } from "../../src/transport/types.ts";
import { healthyCommands } from "./healthy-replay.ts";
import { recorded, replayContext, replayTransport } from "./replay.ts";

// psql's answers recorded on reference hosts: healthy, and under scenarios pg-listen-all, pg-hba-trust,
// pg-password-md5 (server facts, as postgres) and app-role-superuser (the app role's own row).
const facts = (tag: string) => recorded(`pg-server-facts-${tag}.txt`);
const role = (tag: string) => JSON.parse(recorded(`pg-role-facts-${tag}.txt`)) as RoleFacts;
const check = (id: string) => databaseChecks.find((c) => c.id === id)!;

// A healthy host's service environment (DATABASE_URL on localhost:5432) and one psql answer.
function host(psql: { stdout?: string; stderr?: string; exitCode?: number } | Error, environ = recorded("proc-environ-healthy.txt")) {
  const t = replayTransport(
    { ...healthyCommands(), "runuser -u postgres -- psql": psql },
    { "/proc/70/stat": recorded("proc-stat-healthy.txt"), "/proc/70/environ": environ },
  );
  return { t, ctx: replayContext(t) };
}

// The app's connection, replaced by one that answers the recorded role row.
function withRole(ctx: ProbeContext, row: RoleFacts) {
  const client = { query: async () => ({ rows: [row] }) };
  void ctx.once("db:connection", async () => ({
    ok: true,
    client,
    target: { host: "localhost", port: 5432, user: "projectmeats_user", password: "", database: "projectmeats_db" },
  }));
  return ctx;
}

describe("PostgreSQL's exposure on a healthy reference host", () => {
  test("listen_addresses, pg_hba.conf, role and password storage all pass, read with one psql call as postgres", async () => {
    const { t, ctx } = host({ stdout: facts("healthy") });
    withRole(ctx, role("healthy"));
    const v = await Promise.all(["DB-005", "DB-006", "DB-007", "DB-008"].map((id) => check(id).run(ctx)));
    expect(v.map((x) => x.pass)).toEqual([true, true, true, true]);
    expect(v[0]!.observed).toBe("listen_addresses = 'localhost': loopback only; the app connects to localhost");
    expect(v[1]!.observed).toBe("/etc/postgresql/15/main/pg_hba.conf: 7 rules, methods peer, scram-sha-256");
    const psql = t.calls.filter((c) => c[0] === "runuser");
    expect(psql).toHaveLength(1);
    // The cluster the app's DATABASE_URL names (TCP localhost:5432): Debian's socket, its port.
    expect(psql[0]!.slice(0, 14)).toEqual([
      "runuser",
      "-u",
      "postgres",
      "--",
      "psql",
      "-XAtq",
      "-v",
      "ON_ERROR_STOP=1",
      "-h",
      "/var/run/postgresql",
      "-p",
      "5432",
      "-d",
      "postgres",
    ]);
  });
});

describe("each finding, from a real broken host", () => {
  test("DB-005: listen_addresses '*' while the app connects to localhost", async () => {
    const v = await check("DB-005").run(host({ stdout: facts("listen-all") }).ctx);
    expect(v).toMatchObject({ pass: false, observed: "listen_addresses = '*': * reaches beyond loopback while the app connects to localhost" });
  });

  test("DB-006: trust and a clear-text password on the loopback host lines, named by line as the file spells them", async () => {
    const v = await check("DB-006").run(host({ stdout: facts("hba-trust") }).ctx);
    expect(v.pass).toBe(false);
    expect(v.observed).toBe(
      '/etc/postgresql/15/main/pg_hba.conf: line 97 "host all all 127.0.0.1/32 trust": trust, no password asked; line 99 "host all all ::1/128 password": the password crosses TCP in clear text (not hostssl)',
    );
  });

  test("DB-007: the app role made a superuser", async () => {
    const v = await check("DB-007").run(withRole(host({ stdout: facts("healthy") }).ctx, role("superuser")));
    expect(v).toMatchObject({ pass: false, observed: "role projectmeats_user: SUPERUSER" });
  });

  test("DB-008: password_encryption md5 and a role stored under it", async () => {
    const v = await check("DB-008").run(host({ stdout: facts("md5") }).ctx);
    expect(v).toMatchObject({
      pass: false,
      observed: "password_encryption = 'md5' (new passwords are stored with it); MD5-hashed password stored for legacy_reporting",
    });
  });
});

describe("what cannot be read is an error, never a pass", () => {
  test("psql refused (peer authentication, no such socket) throws with its message", async () => {
    const { ctx } = host({
      exitCode: 2,
      stderr: 'psql: error: connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: No such file or directory\n',
    });
    for (const id of ["DB-005", "DB-006", "DB-008"])
      await expect(check(id).run(ctx)).rejects.toThrow(/psql as postgres on \/var\/run\/postgresql port 5432 exited 2: .*No such file or directory/);
  });

  test("a timeout is the transport's error", async () => {
    const { ctx } = host(new TransportError("runuser timed out after 10000 ms", "ETIMEDOUT"));
    await expect(check("DB-006").run(ctx)).rejects.toThrow("timed out");
  });

  test("an answer that is not the JSON object, or an empty rule list, is not judged", async () => {
    await expect(check("DB-008").run(host({ stdout: "" }).ctx)).rejects.toThrow("psql did not answer JSON");
    expect(() => parseServerFacts('{"hba_file": "/x"}')).toThrow("not the expected shape");
    const empty = JSON.stringify({ ...JSON.parse(facts("healthy")), hba: [] });
    await expect(check("DB-006").run(host({ stdout: empty }).ctx)).rejects.toThrow("pg_hba_file_rules is empty");
  });
});

describe("the judgements", () => {
  const rule = (r: Partial<HbaRule>): HbaRule => ({
    line_number: 1,
    type: "host",
    database: ["all"],
    user_name: ["all"],
    address: "10.0.0.0",
    netmask: "255.0.0.0",
    auth_method: "scram-sha-256",
    error: null,
    ...r,
  });

  test("listen_addresses: loopback entries only when the app is local; any width when it connects over the network", () => {
    expect(judgeListen("localhost, 127.0.0.1,::1", "localhost")).toEqual({ wider: [], appLocal: true });
    expect(judgeListen("", "/var/run/postgresql")).toEqual({ wider: [], appLocal: true });
    expect(judgeListen("localhost,10.0.0.5", "127.0.0.1")).toEqual({ wider: ["10.0.0.5"], appLocal: true });
    expect(judgeListen("0.0.0.0", undefined).wider).toEqual(["0.0.0.0"]);
    expect(judgeListen("*", "db.internal").appLocal).toBe(false);
  });

  test("pg_hba.conf: trust anywhere (the local postgres line too), clear text only where the channel is clear, ident over TCP, parse errors", () => {
    expect(judgeHbaRule(rule({ type: "local", user_name: ["postgres"], address: null, netmask: null, auth_method: "trust" }))).toBe(
      'line 1 "local all postgres trust": trust, no password asked',
    );
    expect(judgeHbaRule(rule({ auth_method: "ldap" }))).toBe('line 1 "host all all 10.0.0.0/8 ldap": the password crosses TCP in clear text (not hostssl)');
    expect(judgeHbaRule(rule({ type: "hostssl", auth_method: "password" }))).toBeUndefined();
    expect(judgeHbaRule(rule({ type: "local", address: null, netmask: null, auth_method: "password" }))).toBeUndefined();
    expect(judgeHbaRule(rule({ auth_method: "ident" }))).toContain("ident over TCP");
    expect(judgeHbaRule(rule({ type: "local", address: null, netmask: null, auth_method: "peer" }))).toBeUndefined();
    expect(judgeHbaRule(rule({ auth_method: "md5" }))).toBeUndefined();
    expect(judgeHbaRule(rule({ line_number: 7, auth_method: null, error: 'invalid authentication method "trusty"' }))).toBe(
      'line 7 cannot be parsed by PostgreSQL: invalid authentication method "trusty"',
    );
  });

  test("role: CREATEROLE alone and membership of a powerful role are faults; CREATEDB is reported, allowed", () => {
    const base = role("healthy");
    expect(judgeRole({ ...base, rolcreaterole: true })).toEqual({ faults: ["CREATEROLE"], notes: [] });
    expect(judgeRole({ ...base, powerful: ["pg_execute_server_program", "postgres"] })).toEqual({
      faults: ["member of pg_execute_server_program, postgres"],
      notes: [],
    });
    expect(judgeRole({ ...base, rolcreatedb: true })).toEqual({ faults: [], notes: ["CREATEDB"] });
  });

  test("netmasks read as prefix lengths", () => {
    expect(prefixLength("255.255.255.255")).toBe("32");
    expect(prefixLength("255.255.0.0")).toBe("16");
    expect(prefixLength("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")).toBe("128");
    expect(prefixLength("255.0.255.0")).toBe("255.0.255.0");
  });
});
