import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { REPO_ROOT } from "../../fixtures/host/paths.ts";
import { assertNoProcessWarnings } from "./hosts.ts";
import { recordPhase } from "./phases.ts";

// `file`, `fileStart`, `fileEnd`: the spec file the row belongs to and when its first test started and last ended (ms).
export type FleetRow = {
  target: string;
  id: string;
  status: string;
  message: string;
  name: string;
  machineId?: string;
  file: string;
  fileStart: number;
  fileEnd: number;
};

// One row per (host, check) of a fleet run's vitest JSON report.
export function readFleetReport(file: string): FleetRow[] {
  const report = JSON.parse(readFileSync(file, "utf8")) as {
    testResults: Array<{
      name: string;
      startTime: number;
      endTime: number;
      assertionResults: Array<{
        title: string;
        status: string;
        failureMessages?: string[];
        meta?: { checkId?: string; status?: string; target?: string; host?: { machineId: string } };
      }>;
    }>;
  };
  return report.testResults.flatMap((f) =>
    f.assertionResults.map((a) => ({
      target: a.meta?.target ?? "?",
      id: a.meta?.checkId ?? "?",
      status: a.meta?.status ?? "not-run",
      message: (a.failureMessages ?? []).join("\n"),
      name: a.title,
      machineId: a.meta?.host?.machineId,
      file: f.name,
      fileStart: f.startTime,
      fileEnd: f.endTime,
    })),
  );
}

// Runs the validator on this machine against the fleet `env` names (DEPLOY_INVENTORY, DEPLOY_LIMIT), as an operator
// would from a workstation; its report goes to reports/e2e/<label>.
export async function validateFleet(args: string[], env: Record<string, string>, label: string) {
  const dir = path.join("reports", "e2e", label);
  const started = performance.now();
  const r = await execa("npx", ["vitest", "run", ...args], {
    cwd: REPO_ROOT,
    reject: false,
    timeout: 300_000,
    stdin: "ignore",
    env: { ...env, DDV_REPORTS_DIR: dir, NO_COLOR: "1" },
  });
  recordPhase("fleet run", performance.now() - started);
  const output = `${r.stdout}\n${r.stderr}`;
  assertNoProcessWarnings(output, `the fleet run ${label}`);
  return { exitCode: r.exitCode, output, rows: readFleetReport(path.join(REPO_ROOT, dir, "vitest-report.json")), dir };
}

// The rows of one host, by status.
export function byStatus(rows: FleetRow[], target: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const r of rows.filter((x) => x.target === target)) (out[r.status] ??= []).push(r.id);
  for (const ids of Object.values(out)) ids.sort();
  return out;
}

// Samples every process's command line on this machine (the reference hosts' processes included: they share its
// kernel) until the returned function is called; resolves the lines that held any of `secrets` (shown masked).
export function watchCommandLines(secrets: string[]): () => Promise<{ hits: string[]; samples: number }> {
  const hits = new Set<string>();
  let on = true;
  let samples = 0;
  const loop = (async () => {
    while (on) {
      for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
        let line = "";
        try {
          line = readFileSync(`/proc/${pid}/cmdline`, "latin1");
        } catch {
          continue; // gone meanwhile
        }
        for (const s of secrets) if (line.includes(s)) hits.add(line.replaceAll(s, "<secret>").replaceAll("\0", " ").slice(0, 300));
      }
      samples++;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return async () => {
    on = false;
    await loop;
    return { hits: [...hits], samples };
  };
}
