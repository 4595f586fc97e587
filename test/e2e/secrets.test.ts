import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, test } from "vitest";
import { REPO_ROOT } from "../../fixtures/host/paths.ts";
import { describeE2E } from "./e2e.ts";
import { hostCli, validateInside } from "./hosts.ts";
import { shInside } from "./remediation-helpers.ts";

// Known secrets of awkward shapes planted in a reference host: every suite, a remediation and the HTML report
// run over them, and no file under the run's reports nor any captured output may contain one, in any encoding.
const HOST = "e2e-secrets";
const REPORTS = "reports/e2e/secrets";
const KEY = `Kq$9'x%41"zR7-dollar$HOME-pct%2F-v8Lm3Nw0Pt6Yc1Ub5Ae2Gi4Jo7Sd`; // $, %, both quotes
const DB_PASSWORD = "p@ss%w0rd$x/y'z";
const TOKEN = "tok_5f3a9c1e7b2d4f60a8c9";
const SMTP_PASSWORD = 'smtp "quoted" pass';

// The forms a secret could leak in: raw, URL-encoded (lower and upper hex), JSON-escaped, shell-quoted halves.
function forms(s: string): string[] {
  const enc = encodeURIComponent(s);
  return [...new Set([s, enc, enc.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()), JSON.stringify(s).slice(1, -1)])];
}

const outputs: string[] = [];

describeE2E("secrets never leave the host's env file", () => {
  beforeAll(async () => {
    const up = await hostCli(["up", "--name", HOST], { timeoutMs: 600_000 });
    expect(up.exitCode, up.stderr).toBe(0);
    // systemd's env-file syntax: single quotes keep $ % and " literally; the ' in KEY needs the double-quoted form.
    const sysd = (v: string) => `"${v.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`;
    const url = `postgres://projectmeats_user:${encodeURIComponent(DB_PASSWORD)}@localhost:5432/projectmeats_db`;
    const sql = `ALTER ROLE projectmeats_user PASSWORD '${DB_PASSWORD.replace(/'/g, "''")}'`;
    const script = [
      `set -e; f=/etc/projectmeats/projectmeats.env`,
      `sed -i -e '/^SECRET_KEY=/d' -e '/^DATABASE_URL=/d' -e '/^DEBUG=/d' "$f"`,
      `cat >> "$f" <<'EOF_ENV'`,
      `SECRET_KEY=${sysd(KEY)}`,
      `DATABASE_URL=${url}`,
      `API_TOKEN=${TOKEN}`,
      `SMTP_PASSWORD=${sysd(SMTP_PASSWORD)}`,
      `DEBUG=True`,
      `EOF_ENV`,
      `runuser -u postgres -- psql -Xq -v ON_ERROR_STOP=1 <<'EOF_SQL'`,
      `${sql};`,
      `EOF_SQL`,
      `systemctl restart projectmeats`,
      `for i in $(seq 300); do curl -s -o /dev/null --max-time 1 http://127.0.0.1:8000/health/ && break; sleep 0.1; done`,
      // The running app must really hold these values: the planted shapes are what it parsed.
      `pid=$(systemctl show -p MainPID --value projectmeats); tr '\\0' '\\n' </proc/$pid/environ | grep -c -e '^API_TOKEN=${TOKEN}$'`,
    ].join("\n");
    const r = await shInside(HOST, script);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
  }, 900_000);

  afterAll(async () => {
    expect((await hostCli(["down", HOST])).exitCode).toBe(0);
  }, 120_000);

  test("every suite, a remediation and the HTML report: zero hits for any planted secret", { timeout: 900_000 }, async () => {
    const red = await validateInside(HOST, [], "secrets/before");
    outputs.push(red.output);
    expect(
      red.results.filter((r) => r.status === "fail").map((r) => r.id),
      red.output,
    ).toContain("SEC-001");
    // Its Allure results go beside the run's, so the HTML report shows (and the sweep reads) them too.
    const fix = await shInside(HOST, `cd '${REPO_ROOT}' && DDV_REPORTS_DIR=${red.dir} npx tsx remediate --from-report ${red.dir} --yes </dev/null`);
    outputs.push(fix.stdout, fix.stderr);
    expect(fix.stdout, fix.stderr).toMatch(/set-debug-false/);
    const green = await validateInside(HOST, [], "secrets/after");
    outputs.push(green.output);
    const audit = await shInside(HOST, "cat /var/lib/ddv/remediation/audit.jsonl /var/lib/ddv/remediation/*/manifest.json");
    outputs.push(audit.stdout);
    const report = await execa("npx", ["tsx", "scripts/report.ts", path.join(REPORTS, "before")], {
      cwd: REPO_ROOT,
      reject: false,
      all: true,
      timeout: 600_000,
    });
    outputs.push(String(report.all));
    expect(report.exitCode, String(report.all)).toBe(0);

    const files = readdirSync(path.join(REPO_ROOT, REPORTS), { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    expect(
      files.some((f) => f.name.endsWith(".html")),
      "the HTML report was built",
    ).toBe(true);
    expect(files.some((f) => f.name.endsWith("-result.json"))).toBe(true);
    const hits: string[] = [];
    for (const s of [KEY, DB_PASSWORD, TOKEN, SMTP_PASSWORD])
      for (const form of forms(s)) {
        for (const f of files) if (readFileSync(path.join(f.parentPath, f.name), "latin1").includes(form)) hits.push(`${f.name}: ${form.slice(0, 6)}…`);
        outputs.forEach((o, i) => o.includes(form) && hits.push(`output ${i}: ${form.slice(0, 6)}…`));
      }
    expect(hits).toEqual([]);
  });
});
