import { readFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { hostInProcess } from "../../fixtures/host/index.ts";
import { REPO_ROOT } from "../../fixtures/host/paths.ts";
import { phaseOf, recordPhase } from "./phases.ts";

// A host action (fixtures/host's commands) run in this process: no Node, npx and tsx start per action. Each call's
// phase and duration go to the run's phase table (phases.ts). The CLI itself is tested through hostCliProcess.
export async function hostCli(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}) {
  const started = performance.now();
  const r = await hostInProcess(args, { env: opts.env, timeoutMs: opts.timeoutMs ?? 180_000 });
  recordPhase(phaseOf(args), performance.now() - started);
  return r;
}

// The host CLI exactly as a user runs it (npx tsx fixtures/host ...).
export function hostCliProcess(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}) {
  return execa("npx", ["tsx", "fixtures/host", ...args], { cwd: REPO_ROOT, reject: false, timeout: opts.timeoutMs ?? 180_000, env: opts.env, stdin: "ignore" });
}

export type CheckResult = { id: string; status: string; observed: string; blockedBy?: string; vitestStatus: string; message: string };

// Reads a vitest JSON report into one row per check.
export function readReport(file: string): CheckResult[] {
  const report = JSON.parse(readFileSync(file, "utf8")) as {
    testResults: Array<{
      assertionResults: Array<{
        status: string;
        failureMessages?: string[];
        meta?: { checkId?: string; status?: string; observed?: string; blockedBy?: string };
      }>;
    }>;
  };
  return report.testResults.flatMap((f) =>
    f.assertionResults.map((a) => ({
      id: a.meta?.checkId ?? "?",
      status: a.meta?.status ?? "not-run",
      observed: a.meta?.observed ?? "",
      blockedBy: a.meta?.blockedBy,
      vitestStatus: a.status,
      message: (a.failureMessages ?? []).join("\n"),
    })),
  );
}

// Lines where Node or vitest reported a warning or an unhandled error: a run that prints one (pg's "already
// executing a query" deprecation, an unhandled rejection) is a defect even when every check came out right.
export function processWarnings(output: string): string[] {
  const pattern = /\(node:\d+\) (\[\w+\] )?\w*Warning|Unhandled (Rejection|Error)|unhandled errors?|already executing a query/i;
  return output.split("\n").filter((l) => pattern.test(l));
}

// Throws when `output` of `what` carries a process warning (see processWarnings).
export function assertNoProcessWarnings(output: string, what: string) {
  const lines = processWarnings(output);
  if (!lines.length) return;
  // The lines after the first one carry the error itself (vitest prints the header, then the message and stack).
  const all = output.split("\n");
  const at = all.indexOf(lines[0] as string);
  throw new Error(`${what} printed ${lines.length} process warning(s):\n${all.slice(at, at + 30).join("\n")}`);
}

// Runs the validator inside a host (`host run`) into its own report folder and returns the exit code and rows.
// Any Node deprecation or unhandled-rejection warning in its output fails the calling test.
export async function validateInside(name: string, args: string[] = [], label = name, env: Record<string, string> = {}) {
  const dir = path.join("reports", "e2e", label);
  const r = await hostCli(["run", name, "--", ...args], { env: { ...env, DDV_REPORTS_DIR: dir, NO_COLOR: "1" } });
  assertNoProcessWarnings(`${r.stdout}\n${r.stderr}`, `the validator on ${name} (${args.join(" ") || "full run"})`);
  return { exitCode: r.exitCode, output: `${r.stdout}\n${r.stderr}`, results: readReport(path.join(REPO_ROOT, dir, "vitest-report.json")), dir };
}

// IDs with a given status, sorted.
export const idsWith = (rows: CheckResult[], status: string) =>
  rows
    .filter((r) => r.status === status)
    .map((r) => r.id)
    .sort();

// Whether the site answers healthy JSON on /health/ through Gunicorn and through nginx, asked with curl inside the host.
export async function siteHealthy(name: string): Promise<{ healthy: boolean; detail: string }> {
  const ask = (url: string) => hostCli(["exec", name, "--", "curl", "-s", "--max-time", "5", "-H", "Host: localhost", "-w", "\n%{http_code}", url]);
  const answers = await Promise.all(["http://127.0.0.1:8000/health/", "http://127.0.0.1/health/"].map(ask));
  const ok = answers.map((a) => {
    const body = a.stdout.slice(0, a.stdout.lastIndexOf("\n"));
    try {
      return a.stdout.endsWith("\n200") && (JSON.parse(body) as { status?: string }).status === "healthy";
    } catch {
      return false;
    }
  });
  const detail = answers.map((a, i) => `site ${i ? "nginx" : "gunicorn"}: ${a.stdout.replace(/\s+/g, " ").slice(-80)}`).join("; ");
  return { healthy: ok.every(Boolean), detail };
}
