import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { catalogue } from "../../src/checks/index.ts";
import { catalogueVersion } from "../../src/runner/identity.ts";

// Crafted validator reports for remediation tests: the shapes `vitest --reporter=json` and allure-vitest write.

export type Row = {
  id: string;
  status?: string;
  blockedBy?: string;
  rootCause?: string;
  observed?: string;
  host?: { hostname: string; machineId: string } | null;
  catalogue?: string | null;
  target?: string;
};

// This machine's identity, as the validator would record it when run here.
export const here = () => ({ hostname: readFileSync("/proc/sys/kernel/hostname", "utf8").trim(), machineId: readFileSync("/etc/machine-id", "utf8").trim() });

// Every catalogue ID with status pass: a report of a healthy host.
export const allPass = (): Row[] => catalogue.map((c) => ({ id: c.id, status: "pass" }));

// A vitest JSON report object; rows default to this host and this catalogue (null drops the field).
export function vitestReport(rows: Row[], startTime = Date.now()) {
  const me = here();
  const meta = (r: Row) => {
    const m: Record<string, unknown> = { checkId: r.id, status: r.status ?? "pass", blockedBy: r.blockedBy, rootCause: r.rootCause, observed: r.observed };
    if (r.host !== null) m.host = r.host ?? me;
    if (r.catalogue !== null) m.catalogue = r.catalogue ?? catalogueVersion();
    if (r.target) m.target = r.target;
    return m;
  };
  return {
    numTotalTests: rows.length,
    startTime,
    success: rows.every((r) => (r.status ?? "pass") === "pass"),
    testResults: [
      {
        name: "/specs/x.spec.ts",
        status: "passed",
        assertionResults: rows.map((r) => ({ title: `${r.id} t`, status: r.status === "fail" ? "failed" : "passed", meta: meta(r) })),
      },
    ],
  };
}

// Writes a vitest report as <dir>/<name>/vitest-report.json and returns that folder.
export function writeVitest(dir: string, name: string, report: unknown): string {
  const d = path.join(dir, name);
  mkdirSync(d, { recursive: true });
  writeFileSync(path.join(d, "vitest-report.json"), typeof report === "string" ? report : JSON.stringify(report));
  return d;
}

const ALLURE: Record<string, string> = { pass: "passed", fail: "failed", error: "broken", skip: "skipped" };

// Writes one allure result file per row (start = `start`), as allure-vitest names them; returns the folder.
export function writeAllure(dir: string, rows: Row[], start: number, tag = "r"): string {
  mkdirSync(dir, { recursive: true });
  const me = here();
  rows.forEach((r, i) => {
    const labels = [{ name: "check_id", value: r.id }];
    const host = r.host === null ? undefined : (r.host ?? me);
    if (host) labels.push({ name: "host", value: host.hostname }, { name: "machine_id", value: host.machineId });
    if (r.catalogue !== null) labels.push({ name: "catalogue", value: r.catalogue ?? catalogueVersion() });
    if (r.blockedBy) labels.push({ name: "blocked_by", value: r.blockedBy });
    if (r.rootCause) labels.push({ name: "root_cause", value: r.rootCause });
    const body = { uuid: `${tag}-${i}`, name: `${r.id} t`, status: ALLURE[r.status ?? "pass"] ?? "passed", labels, start, stop: start + 10 };
    // As register.ts leaves it: a red check's message in statusDetails, a skip's reason as the description.
    if (r.observed) Object.assign(body, r.status === "skip" ? { description: r.observed } : { statusDetails: { message: r.observed } });
    writeFileSync(path.join(dir, `${tag}-${i}-result.json`), JSON.stringify(body));
  });
  return dir;
}
