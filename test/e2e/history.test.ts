import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { REPO_ROOT } from "../../fixtures/host/paths.ts";
import { describeE2E } from "./e2e.ts";
import { hostCli, validateInside } from "./hosts.ts";
import { shInside } from "./remediation-helpers.ts";

// Issue 21: a green run, then on the same host a changed ExecStart flag, an env variable removed, an nginx site edit
// and an unapplied migration (plus a rotated SECRET_KEY): the red run says what changed since the green one, the
// change behind its first failing check first, and no secret value appears in any report, output or history file.
const HOST = "e2e-hist-ref";
const SUITES = ["specs/service", "specs/http", "specs/database"];
const NEW_KEY = "hist-rotated-Kq9x41zR7v8Lm3Nw0Pt6Yc1Ub5Ae2Gi4Jo7Sd";
const BREAK = String.raw`
set -e
sed -i 's/--max-requests 1000/--max-requests 2000/' /etc/systemd/system/projectmeats.service
sed -i -e '/^LOG_LEVEL=/d' -e 's/^SECRET_KEY=.*/SECRET_KEY=${NEW_KEY}/' /etc/projectmeats/projectmeats.env
sed -i 's/^    server_tokens off;/    server_tokens off;\n    client_max_body_size 20m;/' /etc/nginx/sites-available/projectmeats
f=/opt/projectmeats/backend/apps/suppliers/migrations/0002_supplier_notes.py
printf '%s\n' 'from django.db import migrations' '' '' 'class Migration(migrations.Migration):' \
  '    dependencies = [("suppliers", "0001_initial")]' '    operations = []' > "$f"
chown projectmeats:www-data "$f"
systemctl daemon-reload
nginx -t -q && systemctl reload nginx
systemctl restart projectmeats
for i in $(seq 300); do curl -s -o /dev/null --max-time 1 http://127.0.0.1:8000/health/ && break; sleep 0.1; done`;

// The forms a secret could leak in: raw, URL-encoded, JSON-escaped.
const forms = (s: string) => [...new Set([s, encodeURIComponent(s), JSON.stringify(s).slice(1, -1)])];
const outputs: string[] = [];

describeE2E("changed since the last green run", () => {
  beforeAll(async () => {
    const up = await hostCli(["up", "--name", HOST], { timeoutMs: 600_000 });
    expect(up.exitCode, up.stderr).toBe(0);
  }, 900_000);

  afterAll(async () => {
    expect((await hostCli(["down", HOST])).exitCode).toBe(0);
  }, 120_000);

  test("a green run, four changes, a red run: all four listed, the migration behind DB-002 first, no secret anywhere", { timeout: 900_000 }, async () => {
    const env = await shInside(HOST, "cat /etc/projectmeats/projectmeats.env");
    const oldKey = env.stdout.match(/^SECRET_KEY=(.*)$/m)?.[1] as string;
    const dbPassword = decodeURIComponent(new URL(env.stdout.match(/^DATABASE_URL=(.*)$/m)?.[1] as string).password);
    expect(oldKey.length).toBeGreaterThan(20);
    expect(dbPassword.length).toBeGreaterThan(8);

    const green = await validateInside(HOST, SUITES, "history/green");
    outputs.push(green.output);
    expect(green.exitCode, green.output).toBe(0);
    expect(green.output).not.toContain("Changed since the last green run");

    const broke = await shInside(HOST, BREAK);
    expect(broke.exitCode, `${broke.stdout}\n${broke.stderr}`).toBe(0);
    const red = await validateInside(HOST, SUITES, "history/red");
    outputs.push(red.output);
    expect(red.exitCode, red.output).toBe(1);
    expect(red.results.filter((r) => r.status === "fail" || r.status === "error").map((r) => r.id)).toEqual(["DB-002"]);

    type Changes = { verdict: string; since: { id: string } | null; changes: Array<{ key: string; text: string; checks: string[] }>; text: string };
    const c = JSON.parse(readFileSync(path.join(REPO_ROOT, red.dir, "changes.json"), "utf8")) as Changes;
    const story = c.text;
    expect(c.verdict).toBe("red");
    expect(c.since, story).not.toBeNull();
    expect(c.changes[0], story).toMatchObject({ key: "migration suppliers.0002_supplier_notes", checks: ["DB-002"] });
    expect(c.changes[0]?.text).toBe("migration suppliers.0002_supplier_notes: new (not applied)");
    const text = (key: string) => c.changes.find((x) => x.key === key)?.text;
    expect(text("unit ExecStart"), story).toBe("unit ExecStart: changed --max-requests 1000 -> 2000");
    expect(text("env LOG_LEVEL"), story).toBe("env LOG_LEVEL: removed (was from /etc/projectmeats/projectmeats.env)");
    expect(text("env SECRET_KEY"), story).toBe("env SECRET_KEY: value changed");
    expect(c.changes.find((x) => x.key.startsWith("nginx server meatscentral.com"))?.text, story).toMatch(/: block edited \(listen 80 default_server;/);
    // The same lines in the terminal, JUnit's system-out and the Allure results.
    expect(red.output).toContain(story);
    const junit = readFileSync(path.join(REPO_ROOT, red.dir, "junit.xml"), "utf8");
    expect(junit).toMatch(/<system-out>\s*Changed since the last green run/);
    expect(junit).toContain("migration suppliers.0002_supplier_notes: new (not applied)");
    const results = path.join(REPO_ROOT, red.dir, "allure-results");
    const globals = readdirSync(results).filter((f) => f.endsWith("-globals.json"));
    expect(globals).toHaveLength(1);
    const g = JSON.parse(readFileSync(path.join(results, globals[0] as string), "utf8")) as { attachments: Array<{ name: string; source: string }> };
    expect(g.attachments[0]?.name).toBe("Changed since the last green run");
    expect(readFileSync(path.join(results, g.attachments[0]?.source as string), "utf8")).toContain(story);

    const history = await shInside(HOST, `cd '${REPO_ROOT}' && npm run -s history`);
    outputs.push(history.stdout, history.stderr);
    expect(history.exitCode, history.stderr).toBe(0);
    expect(history.stdout).toMatch(/ green\s*\n.* red +failing DB-002 {2}\d+ change\(s\) since green .*\n {4}DB-002 +migration suppliers\.0002_supplier_notes/);
    const kept = await shInside(HOST, "stat -c '%a %n' /var/lib/ddv/history /var/lib/ddv/history/runs /var/lib/ddv/history/salt /var/lib/ddv/history/runs/*");
    expect(
      kept.stdout
        .trim()
        .split("\n")
        .map((l) => l.split(" ")[0]),
    ).toEqual(["700", "700", "600", "600", "600"]);
    const stored = await shInside(HOST, "cat /var/lib/ddv/history/runs/*.json");
    outputs.push(stored.stdout);

    const files = readdirSync(path.join(REPO_ROOT, "reports/e2e/history"), { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    const hits: string[] = [];
    for (const s of [oldKey, NEW_KEY, dbPassword])
      for (const form of forms(s)) {
        for (const f of files) if (readFileSync(path.join(f.parentPath, f.name), "latin1").includes(form)) hits.push(`${f.name}: ${form.slice(0, 6)}…`);
        outputs.forEach((o, i) => o.includes(form) && hits.push(`output ${i}: ${form.slice(0, 6)}…`));
      }
    expect(hits).toEqual([]);
  });
});
