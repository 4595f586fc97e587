import { expect, test } from "vitest";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { remediationFolders, remediationResults, resultsFolderOf } from "../../src/remediation/allure.ts";
import type { Outcome } from "../../src/runner/evaluate.ts";

const o = (id: string, status: Outcome["status"], observed: string): Outcome => ({ id, status, observed, durationMs: 1 });

test("a remediation run becomes Allure results: one per step with before/after, manual steps, secrets masked, no check_id", () => {
  const secret = "s3cr3t-Passw0rd-value";
  const results = remediationResults(
    {
      host: "web1",
      report: "reports/vitest-report.json",
      backup: "/var/lib/ddv/remediation/x",
      manual: [{ id: "SVC-006", why: "install gunicorn in the venv" }],
      reported: new Map([["DB-001", { id: "DB-001", status: "fail", observed: `FATAL: password authentication failed for user "app" (${secret})` }]]),
      before: new Map([["DB-001", o("DB-001", "fail", `password authentication failed for ${secret}`)]]),
      after: new Map([["DB-001", o("DB-001", "pass", "connected")]]),
      steps: [
        {
          fix: "repair-db-role",
          title: "Let the role log in",
          ids: ["DB-001"],
          actions: ["SQL on postgres: ALTER ROLE ..."],
          start: 1,
          stop: 2,
          result: "verified",
        },
        {
          fix: "set-debug-false",
          title: "DEBUG=False",
          ids: ["SEC-001"],
          actions: ["write /etc/x.env"],
          start: 3,
          stop: 4,
          result: "rolled back",
          reason: `still failing (${secret})`,
        },
      ],
    },
    [secret],
  ) as Array<{
    name: string;
    status: string;
    labels: Array<{ name: string; value: string }>;
    steps: Array<{ name: string }>;
    statusDetails: { message: string };
    description?: string;
  }>;
  expect(results.map((r) => [r.name, r.status])).toEqual([
    ["remediation repair-db-role (DB-001)", "passed"],
    ["remediation set-debug-false (SEC-001)", "failed"],
    ["remediation: manual steps", "skipped"],
  ]);
  // Each carries its gravest check's severity in Allure's words (DB-001, SEC-001 and SVC-006 are critical: blocker).
  const sev = (r: (typeof results)[number]) => r.labels.find((l) => l.name === "severity")?.value;
  expect(results.map(sev)).toEqual(["blocker", "blocker", "blocker"]);
  expect(results[0]?.steps.map((s) => s.name.split(" (")[0])).toEqual([
    "in the report: DB-001 fail",
    "before: DB-001 fail",
    "SQL on postgres: ALTER ROLE ...",
    "after: DB-001 pass",
  ]);
  // Before and after in full, in the result's description: the report's observation, the re-check before, the one after.
  expect(results[0]?.description).toBe(
    [
      "### DB-001",
      'in the report (reports/vitest-report.json): **fail**\n\n```text\nFATAL: password authentication failed for user "app" ([REDACTED])\n```',
      "re-checked before the fix: **fail**\n\n```text\npassword authentication failed for [REDACTED]\n```",
      "re-checked after the fix: **pass**\n\n```text\nconnected\n```",
    ].join("\n\n"),
  );
  expect(results[1]?.description).toContain("### SEC-001\n\nin the report (reports/vitest-report.json): **not checked**");
  expect(results[1]?.description).toContain("re-checked at the end (the step rolled back): **not checked**");
  // The checks' own results sit under their suites (or "smoke"); these under "remediation" only.
  expect(results.every((r) => r.labels.some((l) => l.name === "parentSuite" && l.value === "remediation"))).toBe(true);
  expect(results.every((r) => !r.labels.some((l) => l.name === "check_id"))).toBe(true);
  expect(JSON.stringify(results)).not.toContain(secret);
  expect(results[2]?.statusDetails.message).toContain("SVC-006: install gunicorn");
});

test("a fleet's hosts keep their remediation results apart, and the report reads every host's folder", () => {
  const d = mkdtempSync(path.join(tmpdir(), "ddv-rr-"));
  try {
    expect(resultsFolderOf("web-1.example.com")).toBe("host-web-1.example.com");
    expect(resultsFolderOf("../etc")).toBe("host-.._etc");
    expect(remediationFolders(path.join(d, "none"))).toEqual([]);
    for (const h of ["web1", "web2"]) mkdirSync(path.join(d, resultsFolderOf(h)), { recursive: true });
    mkdirSync(path.join(d, "other"));
    expect(remediationFolders(d).sort()).toEqual([d, path.join(d, "host-web1"), path.join(d, "host-web2")].sort());
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
