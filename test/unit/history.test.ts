import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { runHistory } from "../../src/history/cli.ts";
import { diffFingerprints } from "../../src/history/diff.ts";
import { parseListening } from "../../src/history/gather-host.ts";
import { argvOptions, unitLines } from "../../src/history/gather-unit.ts";
import { Items } from "../../src/history/items.ts";
import { rankChanges } from "../../src/history/rank.ts";
import { recordRun } from "../../src/history/record.ts";
import { changesText } from "../../src/history/render.ts";
import type { Fingerprint, SectionName } from "../../src/history/schema.ts";
import { stateSalt } from "../../src/history/state-dir.ts";
import { parseConfig, serverBlocks } from "../../src/probes/nginx-sites.ts";
import { runIds, takePending, writePending } from "../../src/history/store.ts";

const KEY = "k3y-V4lue-that-must-never-show-9f8e7d";
const DB_PASSWORD = "pg-s3cret-pass-77";
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(path.join(tmpdir(), "ddv-history-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

type Deploy = { key: string; logLevel?: string; maxRequests: number; nginx: string; migrations: Record<string, string>; dbUrl: string };
const healthy: Deploy = {
  key: KEY,
  logLevel: "info",
  maxRequests: 1000,
  nginx: "server_tokens off;",
  migrations: { "suppliers.0001_initial": "applied" },
  dbUrl: `postgres://app:${DB_PASSWORD}@localhost/app`,
};

// A fingerprint as the gatherers build it (Items: salted hashes, redacted text), from a described deployment.
function fingerprint(d: Deploy, runId: string, salt = "salt-1"): Fingerprint {
  const secrets = [KEY, DB_PASSWORD];
  const section = (fill: (b: Items) => void) => {
    const b = new Items(salt, secrets);
    fill(b);
    return b.done();
  };
  const sections: Partial<Record<SectionName, ReturnType<typeof section>>> = {
    unit: section((b) => {
      const argv = ["/venv/bin/gunicorn", "--bind", "127.0.0.1:8000", "--max-requests", String(d.maxRequests), "app.wsgi"];
      b.add("unit ExecStart", JSON.stringify(argv), undefined, argvOptions(argv));
      b.add("unit User", "app", "app");
    }),
    env: section((b) => {
      const env: Record<string, string> = { SECRET_KEY: d.key, DATABASE_URL: d.dbUrl, ...(d.logLevel ? { LOG_LEVEL: d.logLevel } : {}) };
      for (const k of Object.keys(env).sort()) b.secret(`env ${k}`, env[k] as string, "from /etc/app.env");
    }),
    django: section((b) => b.add("django database", d.dbUrl, `postgresql ${d.dbUrl}`)),
    migrations: section((b) => {
      for (const [m, s] of Object.entries(d.migrations)) b.add(`migration ${m}`, s, s);
    }),
    nginx: section((b) =>
      b.add("nginx server example.com 80", d.nginx, "listen 80; server_name example.com; proxy_pass 127.0.0.1:8000 (/etc/nginx/sites-enabled/app)"),
    ),
    code: section((b) => b.add("code commit", "abc", "abc (main)")),
  };
  return { version: 1, runId, at: "2026-12-05T00:00:00Z", gatherMs: 5, sections };
}

const broken: Deploy = {
  ...healthy,
  logLevel: undefined,
  maxRequests: 2000,
  nginx: "server_tokens off; client_max_body_size 20m;",
  migrations: { ...healthy.migrations, "suppliers.0002_notes": "not applied" },
};

describe("diffing two fingerprints", () => {
  test("each kind of change is one line; a secret's value is never in any of them, nor in what is stored", () => {
    const before = fingerprint(healthy, "r1");
    const after = fingerprint({ ...broken, key: `${KEY}-rotated` }, "r2");
    const lines = diffFingerprints(before, after).map((d) => d.text);
    expect(lines).toEqual([
      "unit ExecStart: changed --max-requests 1000 -> 2000",
      "env LOG_LEVEL: removed (was from /etc/app.env)",
      "env SECRET_KEY: value changed",
      "migration suppliers.0002_notes: new (not applied)",
      "nginx server example.com 80: block edited (listen 80; server_name example.com; proxy_pass 127.0.0.1:8000 (/etc/nginx/sites-enabled/app))",
    ]);
    const stored = JSON.stringify([before, after, lines]);
    for (const s of [KEY, DB_PASSWORD, "info"]) expect(stored).not.toContain(s);
    expect(stored).toContain("[REDACTED]"); // the database URL's password, masked where the URL is shown
  });

  test("a password change inside a shown value is a value change, never the value", () => {
    const lines = diffFingerprints(fingerprint(healthy, "r1"), fingerprint({ ...healthy, dbUrl: "postgres://app:0ther-pass-2x@localhost/app" }, "r2"));
    expect(lines.map((d) => d.text)).toContain("env DATABASE_URL: value changed");
    // The new password is not one the run knew as a secret here: the URL itself is shown only where a check would.
    expect(lines.find((d) => d.key === "django database")?.text).toMatch(/^django database: postgresql postgres:\/\/app:\[REDACTED\]@localhost\/app -> /);
  });

  test("hashes are salted per state directory; equal values hash alike under one salt", () => {
    const a = fingerprint(healthy, "r1", "salt-1").sections.env;
    const b = fingerprint(healthy, "r2", "salt-2").sections.env;
    const c = fingerprint(healthy, "r3", "salt-1").sections.env;
    if (!a?.ok || !b?.ok || !c?.ok) throw new Error("env section missing");
    expect(a.items["env SECRET_KEY"]?.hash).not.toBe(b.items["env SECRET_KEY"]?.hash);
    expect(a.items["env SECRET_KEY"]?.hash).toBe(c.items["env SECRET_KEY"]?.hash);
    expect(a.items["env SECRET_KEY"]?.shown).toBe("from /etc/app.env");
  });

  test("a section unreadable now is one line, not every item removed", () => {
    const after = fingerprint(broken, "r2");
    after.sections.migrations = { ok: false, error: "django_migrations could not be read: ECONNREFUSED" };
    const lines = diffFingerprints(fingerprint(healthy, "r1"), after).filter((d) => d.section === "migrations");
    expect(lines.map((d) => d.text)).toEqual(["migrations: could not be read this run (django_migrations could not be read: ECONNREFUSED)"]);
  });

  test("unit lines keep Environment= names only; argv options keep their values", () => {
    const text = "[Service]\nEnvironment=SECRET_KEY=abc DEBUG=0\nExecStart=/v/bin/gunicorn \\\n  --bind 127.0.0.1:8000 \\\n  --preload app.wsgi\n# note\n";
    expect(unitLines(text)).toEqual([
      "[Service]",
      "Environment=SECRET_KEY DEBUG (values not kept)",
      "ExecStart=/v/bin/gunicorn --bind 127.0.0.1:8000 --preload app.wsgi",
    ]);
    expect(argvOptions(["/v/bin/gunicorn", "--bind", "127.0.0.1:8000", "--preload", "app.wsgi"])).toEqual([
      "/v/bin/gunicorn",
      "--bind 127.0.0.1:8000",
      "--preload",
      "app.wsgi",
    ]);
  });

  test("a server block's digest follows its directives, not where they sit", () => {
    const digest = (text: string) => serverBlocks(parseConfig(text, "/etc/nginx/nginx.conf"))[0]?.digest;
    const site = "http {\n server { listen 80; server_name a; location / { proxy_pass http://127.0.0.1:8000; } }\n}";
    expect(digest(`\n\n${site}`)).toBe(digest(site));
    expect(digest(site.replace("listen 80;", "listen 80; client_max_body_size 20m;"))).not.toBe(digest(site));
  });

  test("listeners from /proc/net/tcp and tcp6", () => {
    const v4 = "  sl  local_address rem_address   st\n   0: 0100007F:1F40 00000000:0000 0A 0\n   1: 0100007F:1F40 0100007F:9C40 01 0\n";
    const v6 = "  sl  local_address\n   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A\n";
    expect([...parseListening(v4, false), ...parseListening(v6, true)]).toEqual(["127.0.0.1:8000", "[::]:80"]);
  });
});

describe("ranking the changes by the failing checks", () => {
  const diffs = diffFingerprints(fingerprint(healthy, "r1"), fingerprint({ ...broken, key: "x" }, "r2"));
  const ranked = (failing: string[]) => rankChanges(diffs, failing).map((c) => `${c.checks.join(",")} ${c.key}`);

  test("the change behind the first failing check (report order) comes first, then the next failing check's", () => {
    // Given out of report order: DB-002 is reported before SEC-002.
    expect(ranked(["SEC-002", "DB-002"])).toEqual([
      "DB-002 migration suppliers.0002_notes",
      "SEC-002 env LOG_LEVEL",
      "SEC-002 env SECRET_KEY",
      " unit ExecStart",
      " nginx server example.com 80",
    ]);
  });

  test("an exact tie to the first failing check beats a tie by its suite; unrelated changes keep section order", () => {
    expect(ranked(["SVC-014"])).toEqual([
      "SVC-014 nginx server example.com 80",
      "SVC-014 unit ExecStart",
      " env LOG_LEVEL",
      " env SECRET_KEY",
      " migration suppliers.0002_notes",
    ]);
  });

  test("a code change ties to every check: after the close ties, before the unrelated", () => {
    const code = fingerprint(healthy, "r3");
    const c = code.sections.code;
    if (c?.ok) c.items["code commit"] = { hash: "other", shown: "def (main)" };
    const withCode = [...diffs, ...diffFingerprints(fingerprint(healthy, "r1"), code)];
    expect(rankChanges(withCode, ["DB-002"]).map((x) => x.key)).toEqual([
      "migration suppliers.0002_notes",
      "code commit",
      "unit ExecStart",
      "env LOG_LEVEL",
      "env SECRET_KEY",
      "nginx server example.com 80",
    ]);
  });
});

describe("the history on disk", () => {
  test("root-only files, the last green run as the baseline, rotation that keeps it, pending handed over once", () => {
    const state = tmp();
    const salt = stateSalt(state);
    expect(stateSalt(state)).toBe(salt);
    writePending(state, fingerprint(healthy, "20261205T000000Z-0001", salt));
    const fp = takePending(state, "20261205T000000Z-0001");
    expect(takePending(state, "20261205T000000Z-0001")).toBeUndefined();
    recordRun(state, { id: "20261205T000000Z-0001", startedAt: "t0", verdict: "green", failing: [] }, fp, 3);
    for (let i = 2; i <= 5; i++) {
      const id = `20261205T00000${i}Z-000${i}`;
      const e = recordRun(state, { id, startedAt: `t${i}`, verdict: "red", failing: ["DB-002"] }, fingerprint(broken, id, salt), 3);
      expect(e.since?.id).toBe("20261205T000000Z-0001");
      expect(e.changes[0]?.key).toBe("migration suppliers.0002_notes");
      expect(changesText(e, state).split("\n")[1]).toMatch(/^ {2}DB-002 +migration suppliers\.0002_notes: new \(not applied\)$/);
    }
    // Three kept, plus the green baseline however old.
    expect(runIds(state)).toEqual(["20261205T000000Z-0001", "20261205T000003Z-0003", "20261205T000004Z-0004", "20261205T000005Z-0005"]);
    expect(statSync(state).mode & 0o777).toBe(0o700);
    for (const d of ["runs", "pending"]) expect(statSync(path.join(state, d)).mode & 0o777).toBe(0o700);
    for (const f of ["salt", ...readdirSync(path.join(state, "runs")).map((r) => `runs/${r}`)]) expect(statSync(path.join(state, f)).mode & 0o777).toBe(0o600);
    const all = readdirSync(path.join(state, "runs"))
      .map((f) => readFileSync(path.join(state, "runs", f), "utf8"))
      .join("");
    for (const s of [KEY, DB_PASSWORD]) expect(all).not.toContain(s);
  });

  test("npm run history: runs with verdict and changes; bad input one line and its own exit code", () => {
    const state = tmp();
    const io = () => {
      const o = { out: "", err: "" };
      return { o, io: { out: (s: string) => void (o.out += s), err: (s: string) => void (o.err += s) } };
    };
    const env = { DDV_STATE_DIR: state };
    let r = io();
    expect(runHistory([], r.io, env)).toBe(0);
    expect(r.o.out).toMatch(/^no runs recorded yet/);
    recordRun(state, { id: "20261205T000000Z-0001", startedAt: "2026-12-05T00:00:00.000Z", verdict: "green", failing: [] }, fingerprint(healthy, "a"), 50);
    recordRun(state, { id: "20261205T000001Z-0002", startedAt: "2026-12-05T00:00:01.000Z", verdict: "red", failing: ["DB-002"] }, fingerprint(broken, "b"), 50);
    r = io();
    expect(runHistory(["--limit", "5"], r.io, env)).toBe(0);
    expect(r.o.out).toMatch(/20261205T000001Z-0002 .* red +failing DB-002 {2}4 change\(s\) since green 20261205T000000Z-0001\n {4}DB-002 +migration/);
    for (const [args, code, msg] of [
      [["--limit", "0"], 64, /^history: --limit wants a whole number/],
      [["--what"], 64, /^history: Unknown option '--what'/],
      [["--run", "nope"], 66, /^history: no run nope is kept in .* \(2 kept, /],
    ] as const) {
      r = io();
      expect(runHistory([...args], r.io, env)).toBe(code);
      expect(r.o.err).toMatch(msg);
      expect(r.o.err.trim().split("\n")).toHaveLength(1);
    }
    r = io();
    const broken1 = path.join(state, "runs", "20261205T000002Z-0003.json");
    writeFileSync(broken1, "{");
    expect(runHistory([], r.io, env)).toBe(65);
    expect(r.o.err).toMatch(/is not a run history file this validator reads/);
  });
});
