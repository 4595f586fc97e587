import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseEnvInfo } from "allure-js-commons/sdk/reporter";
import { chromium, type BrowserContext } from "playwright-core";
import { catalogue } from "../../src/checks/index.ts";
import { afterAll, beforeAll, expect, test } from "vitest";
import { REPO_ROOT } from "../../fixtures/host/paths.ts";
import { buildReport } from "../../scripts/report.ts";
import { reportPaths } from "../../src/report/allure-config.ts";
import { describeE2E } from "./e2e.ts";
import { hostCli, idsWith, readReport, type CheckResult } from "./hosts.ts";

const NAME = `e2e-rep-${process.pid}`;
const LABEL = "report";
const CHROMIUM = "/usr/bin/chromium";
// The flags the issue asks for: no network side traffic, no sandbox (root in CI), a fresh profile each time.
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

let results: CheckResult[] = [];
let output = "";
let dir = "";

// This run's counts in the report's words: a check that errored is "broken", a skipped test (blocked, waived,
// below failOn) "skipped".
function allureCounts(rows: CheckResult[]) {
  const count = (p: (r: CheckResult) => boolean) => rows.filter(p).length;
  return {
    total: rows.length,
    failed: count((r) => r.vitestStatus === "failed" && r.status !== "error"),
    broken: count((r) => r.vitestStatus === "failed" && r.status === "error"),
    passed: count((r) => r.vitestStatus === "passed"),
    skipped: count((r) => r.vitestStatus === "skipped" || r.vitestStatus === "pending"),
  };
}

describeE2E("the audit reports of a broken host", () => {
  beforeAll(async () => {
    // ALLOWED_HOSTS without localhost: HTTP-001 fails (its dependants are blocked), evidence is attached.
    // The machine may be loaded by other work: generous time to boot and to run every suite.
    const up = await hostCli(["up", "--scenario", "allowed-hosts-missing-localhost", "--name", NAME], { timeoutMs: 600_000 });
    expect(up.exitCode, up.stderr).toBe(0);
    const rel = path.join("reports", "e2e", LABEL);
    dir = path.join(REPO_ROOT, rel);
    // The history holds one point per run: start from none, and run HTTP-001 alone before the full run, so the full
    // run's report has exactly one earlier point.
    rmSync(reportPaths(dir).history, { force: true });
    rmSync(path.join(dir, "allure-runs"), { recursive: true, force: true });
    const early = await hostCli(["run", NAME, "--", "specs/http", "-t", "HTTP-001"], { env: { DDV_REPORTS_DIR: rel, NO_COLOR: "1" }, timeoutMs: 600_000 });
    expect(early.exitCode, early.stderr).toBe(1);
    const v = await hostCli(["run", NAME, "--"], { env: { DDV_REPORTS_DIR: rel, NO_COLOR: "1" }, timeoutMs: 600_000 });
    output = `${v.stdout}\n${v.stderr}`;
    results = readReport(path.join(dir, "vitest-report.json"));
  }, 1_300_000);
  afterAll(async () => {
    expect((await hostCli(["down", NAME], { timeoutMs: 300_000 })).exitCode).toBe(0);
  });

  test("the run failed HTTP-001 and wrote JUnit XML whose test names start with the check ID", () => {
    expect(idsWith(results, "fail"), output).toEqual(["HTTP-001"]);
    const xml = readFileSync(path.join(dir, "junit.xml"), "utf8");
    const names = [...xml.matchAll(/<testcase [^>]*name="([^"]*)"/g)].map((m) => m[1] as string);
    expect(names).toHaveLength(results.length);
    for (const n of names) expect(n).toMatch(/^(SVC|HTTP|DB|FS|SEC|PERF)-\d{3} /);
    // The failure carries the terminal's message (XML-escaped in the attribute).
    const failure = xml.match(/<failure message="([^"]*)" type="AssertionError">/)?.[1] ?? "";
    const unescapeXml = (s: string) =>
      s
        .replace(/&quot;/g, '"')
        .replace(/&apos;/g, "'")
        .replace(/&lt;/g, "<")
        .replace(/&gt;/g, ">")
        .replace(/&amp;/g, "&");
    const message = unescapeXml(failure);
    expect(message.startsWith("HTTP-001 FAIL: Health endpoints answer healthy JSON through Gunicorn\n  expected: ")).toBe(true);
    expect(output).toContain(message);
    // A skip says why: HTTP-001's dependants are blocked by it.
    expect(xml).toMatch(/<skipped message="blocked by HTTP-001 /);
  });

  test("allure-results hold the environment, the host parameter, the cause and capped evidence", () => {
    const res = path.join(dir, "allure-results");
    const env = parseEnvInfo(readFileSync(path.join(res, "environment.properties"), "utf8"));
    for (const key of ["Host name", "OS", "Django", "Gunicorn", "PostgreSQL", "nginx", "systemd", "Validator", "Validator commit", "Config file"])
      expect(env[key], key).toMatch(/^\S/);
    expect(env.Django).toMatch(/^\d+\.\d+/);
    expect(env["Validator commit"]).toMatch(/^[0-9a-f]{40}$/);
    const http001 = readFileSync(
      path.join(
        res,
        readdirSync(res).find((f) => f.endsWith("-result.json") && readFileSync(path.join(res, f), "utf8").includes('"name":"HTTP-001 ')) as string,
      ),
      "utf8",
    );
    type Attachment = { name: string; source: string };
    const r = JSON.parse(http001) as {
      labels: Array<{ name: string; value: string }>;
      parameters: Array<{ name: string }>;
      attachments: Attachment[];
      steps: Array<{ attachments: Attachment[] }>;
    };
    // allure-js-commons 3 records each runtime attachment as a step of the test body.
    r.attachments = [...r.attachments, ...r.steps.flatMap((st) => st.attachments)];
    expect(r.labels).toEqual(
      expect.arrayContaining([
        { name: "ALLURE_ID", value: "HTTP-001" },
        { name: "cause", value: "service down" },
        { name: "feature", value: "http" },
        { name: "severity", value: "blocker" },
        { name: "check_severity", value: "critical" },
      ]),
    );
    // Four severities, four Allure levels: every result says its check's own.
    const severities = new Map<string, string>();
    for (const f of readdirSync(res).filter((x) => x.endsWith("-result.json"))) {
      const labels = (JSON.parse(readFileSync(path.join(res, f), "utf8")) as { labels: Array<{ name: string; value: string }> }).labels;
      const id = labels.find((l) => l.name === "check_id")?.value;
      if (id) severities.set(catalogue.find((c) => c.id === id)?.severity as string, labels.find((l) => l.name === "severity")?.value as string);
    }
    expect(Object.fromEntries(severities)).toEqual({ critical: "blocker", high: "critical", medium: "normal", low: "minor" });
    expect(r.parameters.map((p) => p.name)).toContain("host");
    expect(r.attachments.map((a) => a.name)).toEqual(["journal since the service's current start", "HTTP status lines and headers"]);
    for (const a of r.attachments) expect(readFileSync(path.join(res, a.source)).length).toBeLessThanOrEqual(16 * 1024);
    const http = readFileSync(path.join(res, (r.attachments[1] as { source: string }).source), "utf8");
    expect(http).toContain("HTTP/1.1 400 Bad Request");
  });

  test("npm run report builds the HTML offline, keeps history, and a browser shows this run", async () => {
    const first = await buildReport(dir);
    const page = await buildReport(dir); // built twice: the history still holds one point per run, not per build
    expect(page).toBe(first);
    expect(readFileSync(reportPaths(dir).history, "utf8").trim().split("\n")).toHaveLength(2);
    const html = readFileSync(page, "utf8");
    expect(html).not.toContain("googletagmanager");

    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`).toBe(true);
    const profile = mkdtempSync(path.join(tmpdir(), "ddv-chromium-"));
    let browser: BrowserContext | undefined;
    try {
      browser = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: FLAGS,
        viewport: { width: 1400, height: 1100 },
      });
      const tab = await browser.newPage();
      const outside: string[] = [];
      tab.on("request", (q) => {
        if (!/^(file|data|blob):/.test(q.url())) outside.push(q.url());
      });
      // A 4 MB single-file page on a loaded machine: generous timeouts.
      await tab.goto(`file://${page}`, { waitUntil: "domcontentloaded", timeout: 120_000 });
      await tab.getByText("HTTP-001 Health endpoints answer healthy JSON through Gunicorn").first().waitFor({ timeout: 120_000 });
      const c = allureCounts(results);
      const text = (await tab.innerText("body")).replace(/\s+/g, " ");
      expect(text).toContain(`Total ${c.total}`);
      expect(text).toContain(`Failed ${c.failed}`);
      expect(text).toContain(`Passed ${c.passed}`);
      expect(text).toContain(`Skipped ${c.skipped}`);
      if (c.broken) expect(text).toContain(`Broken ${c.broken}`);
      expect(text).toMatch(/Django \d+\.\d+/); // the Environment panel
      await tab.screenshot({ path: path.join(dir, "report-overview.png") });

      await tab.getByText("HTTP-001 Health endpoints answer healthy JSON through Gunicorn").first().click();
      await tab.getByText("observed: GET /health, /health/, /api/health: HTTP 400").first().waitFor({ timeout: 60_000 });
      const detail = (await tab.innerText("body")).replace(/\s+/g, " ");
      expect(detail).toContain("HTTP-001 FAIL: Health endpoints answer healthy JSON through Gunicorn");
      expect(detail).toContain("Category: Service down");
      expect(detail).toContain("HTTP status lines and headers");
      expect(detail).toMatch(/History 1\b/);
      await tab.screenshot({ path: path.join(REPO_ROOT, "reports", "allure-report-screenshot.png"), fullPage: true });
      expect(outside, "the report must not reach the network").toEqual([]);
    } finally {
      await browser?.close();
      rmSync(profile, { recursive: true, force: true });
    }
  }, 900_000);
});
