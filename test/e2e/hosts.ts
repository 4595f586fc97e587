import { readFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { REPO_ROOT } from "../../fixtures/host/paths.ts";

// Runs the host CLI exactly as a user would (npx tsx fixtures/host ...).
export function hostCli(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}) {
  return execa("npx", ["tsx", "fixtures/host", ...args], { cwd: REPO_ROOT, reject: false, timeout: opts.timeoutMs ?? 180_000, env: opts.env, stdin: "ignore" });
}

export type CheckResult = { id: string; status: string; observed: string; vitestStatus: string; message: string };

// Reads a vitest JSON report into one row per check.
export function readReport(file: string): CheckResult[] {
  const report = JSON.parse(readFileSync(file, "utf8")) as {
    testResults: Array<{ assertionResults: Array<{ status: string; failureMessages?: string[]; meta?: { checkId?: string; status?: string; observed?: string } }> }>;
  };
  return report.testResults.flatMap((f) =>
    f.assertionResults.map((a) => ({
      id: a.meta?.checkId ?? "?",
      status: a.meta?.status ?? "not-run",
      observed: a.meta?.observed ?? "",
      vitestStatus: a.status,
      message: (a.failureMessages ?? []).join("\n"),
    })),
  );
}

// Runs the validator inside a host (`host run`) into its own report folder and returns the exit code and rows.
export async function validateInside(name: string, args: string[] = [], label = name) {
  const dir = path.join("reports", "e2e", label);
  const r = await hostCli(["run", name, "--", ...args], { env: { DDV_REPORTS_DIR: dir, NO_COLOR: "1" } });
  return { exitCode: r.exitCode, output: `${r.stdout}\n${r.stderr}`, results: readReport(path.join(REPO_ROOT, dir, "vitest-report.json")), dir };
}

// IDs with a given status, sorted.
export const idsWith = (rows: CheckResult[], status: string) => rows.filter((r) => r.status === status).map((r) => r.id).sort();
