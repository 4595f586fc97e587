import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { CheckId } from "../checks/define.ts";
import { runNear, staleRunProblem } from "../report/run-record.ts";
import { EXIT, RemediateError } from "./errors.ts";

// What remediation needs from a validator report, whichever format it came in.
// observed: what the run saw (the remediation's Allure results show it as the state before the fix).
export type ReportedCheck = { id: string; status: "pass" | "fail" | "error" | "skip" | "waived"; blockedBy?: string; rootCause?: string; observed?: string };
// target: the fleet host's name (DEPLOY_HOSTS / inventory) when the report came from a fleet run; runId: the run's
// (vitest.config.ts), undefined in a report of an older validator.
export type Report = {
  file: string;
  startedAt: number;
  runId?: string;
  target?: string;
  hostname?: string;
  machineId?: string;
  catalogue?: string;
  checks: ReportedCheck[];
};

const Meta = z.object({
  checkId: CheckId,
  status: z.enum(["pass", "fail", "error", "skip", "waived"]).optional(),
  blockedBy: CheckId.optional(),
  rootCause: CheckId.optional(),
  observed: z.string().optional(),
  host: z.object({ hostname: z.string(), machineId: z.string() }).optional(),
  catalogue: z.string().optional(),
  target: z.string().optional(),
  runId: z.string().optional(),
});
type Metas = { file: string; startedAt: number; runId?: string; metas: Array<z.infer<typeof Meta>> };
const VitestJson = z.object({
  startTime: z.number(),
  testResults: z.array(z.object({ assertionResults: z.array(z.object({ meta: z.record(z.string(), z.unknown()).optional() })) })),
});
const AllureResult = z.object({
  start: z.number().optional(),
  stop: z.number().optional(),
  status: z.string().optional(),
  // A red check's terminal message; a skip's reason is its description.
  statusDetails: z.object({ message: z.string().optional() }).optional(),
  description: z.string().optional(),
  labels: z.array(z.object({ name: z.string(), value: z.string() })).default([]),
});

const bad = (msg: string) => new RemediateError(msg, EXIT.badReport);

// Reads a one-host report: a vitest JSON report, or an allure-results folder (or a reports folder holding
// vitest-report.json).
export function readReport(p: string): Report {
  const r = readMetas(p);
  if (new Set(r.metas.map((m) => m.target)).size > 1)
    throw bad(
      `report ${r.file} is a fleet report (${describeTargets(r.metas)}): remediate it with the same DEPLOY_HOSTS or DEPLOY_INVENTORY as the run that made it`,
    );
  return toReport(r, r.metas);
}

// Reads a fleet run's report: one Report per host, in the run's order.
export function readFleetReport(p: string): Report[] {
  const r = readMetas(p);
  const order = [...new Set(r.metas.map((m) => m.target))];
  if (order.includes(undefined))
    throw bad(`report ${r.file} is not from a fleet run (no host names in it): remediate it on its host, without DEPLOY_HOSTS or DEPLOY_INVENTORY`);
  return order.map((t) => ({
    ...toReport(
      r,
      r.metas.filter((m) => m.target === t),
    ),
    target: t,
  }));
}

const describeTargets = (metas: Array<z.infer<typeof Meta>>) => [...new Set(metas.map((m) => m.target ?? "this host"))].join(", ");

function toReport(r: Metas, metas: Array<z.infer<typeof Meta>>): Report {
  const checks = metas.map((m) => ({ id: m.checkId, status: m.status ?? "skip", blockedBy: m.blockedBy, rootCause: m.rootCause, observed: m.observed }));
  return { file: r.file, startedAt: r.startedAt, runId: r.runId, ...oneHost(r.file, metas), checks };
}

// The report at `p`, refused unless it is the whole report of the last run its folder's run.json records.
function readMetas(p: string): Metas {
  const r = readAnyMetas(p);
  const runs = [...new Set(r.metas.map((m) => m.runId))];
  if (runs.length > 1) throw bad(`report ${r.file} mixes results of ${runs.length} runs (${runs.map((x) => x ?? "no id").join(", ")})`);
  const problem = staleRunProblem(`report ${r.file}`, runs[0], runNear(p));
  if (problem) throw bad(problem);
  return { ...r, runId: runs[0] };
}

function readAnyMetas(p: string): Metas {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(p);
  } catch {
    throw bad(`report ${p} does not exist${lastStopped(p) ?? " (run the validator first: npx vitest run)"}`);
  }
  if (st.isDirectory()) {
    const names = readdirSync(p);
    if (names.includes("vitest-report.json")) return readVitest(path.join(p, "vitest-report.json"));
    if (names.some((n) => n.endsWith("-result.json"))) return readAllure(p, names);
    throw bad(`${p} holds neither vitest-report.json nor allure *-result.json files${lastStopped(p) ?? ""}`);
  }
  return readVitest(p);
}

// Why a report is missing when the last run stopped before checking (its reports were cleared as it started).
function lastStopped(p: string): string | undefined {
  const last = runNear(p);
  return last?.state.startsWith("stopped") ? `: the last run ${last.id} ${last.state}` : undefined;
}

function parseJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw bad(`report ${file} is not readable JSON: ${(err as Error).message.split("\n")[0]}`);
  }
}

function oneHost(file: string, metas: Array<z.infer<typeof Meta>>): Pick<Report, "hostname" | "machineId" | "catalogue"> {
  const hosts = new Set(metas.map((m) => m.host?.machineId ?? ""));
  if (hosts.size > 1) throw bad(`report ${file} mixes results of ${hosts.size} hosts; remediate one host's report at a time`);
  const m = metas[0];
  return { hostname: m?.host?.hostname, machineId: m?.host?.machineId, catalogue: m?.catalogue };
}

function readVitest(file: string): Metas {
  const parsed = VitestJson.safeParse(parseJson(file));
  if (!parsed.success) throw bad(`report ${file} is not a vitest JSON report (${parsed.error.issues[0]?.path.join(".")}: ${parsed.error.issues[0]?.message})`);
  const metas: Array<z.infer<typeof Meta>> = [];
  for (const t of parsed.data.testResults)
    for (const a of t.assertionResults) {
      // A test a filtered run (-t, one suite) did not run carries its static meta only: not a result.
      if (!a.meta || a.meta.checkId === undefined || a.meta.status === undefined) continue;
      const m = Meta.safeParse(a.meta);
      if (!m.success) throw bad(`report ${file} has a malformed check result (${JSON.stringify(a.meta.checkId).slice(0, 40)}: ${m.error.issues[0]?.message})`);
      metas.push(m.data);
    }
  if (!metas.length) throw bad(`report ${file} holds no check results of this validator`);
  return { file, startedAt: parsed.data.startTime, metas };
}

const ALLURE_STATUS: Record<string, ReportedCheck["status"]> = { passed: "pass", failed: "fail", broken: "error", skipped: "skip" };

// allure-results accumulate across runs: per check, the newest result counts.
function readAllure(dir: string, names: string[]): Metas {
  const newest = new Map<string, { start: number; meta: z.infer<typeof Meta> }>();
  for (const n of names.filter((x) => x.endsWith("-result.json"))) {
    const r = AllureResult.safeParse(parseJson(path.join(dir, n)));
    if (!r.success) throw bad(`${path.join(dir, n)} is not an allure result`);
    const label = (k: string) => r.data.labels.find((l) => l.name === k)?.value;
    const id = label("check_id");
    if (!id) continue;
    const outcome = label("outcome");
    const status = outcome === "waived" ? "waived" : outcome === "below" ? "fail" : (ALLURE_STATUS[r.data.status ?? ""] ?? "error");
    const host = label("machine_id") ? { hostname: label("host") ?? "", machineId: label("machine_id") as string } : undefined;
    const target = label("target");
    const m = Meta.safeParse({
      checkId: id,
      status,
      blockedBy: label("blocked_by"),
      rootCause: label("root_cause"),
      observed: r.data.statusDetails?.message ?? r.data.description,
      host,
      catalogue: label("catalogue"),
      target,
      runId: label("run_id"),
    });
    if (!m.success) throw bad(`${path.join(dir, n)} has a malformed check result (${JSON.stringify(id).slice(0, 40)})`);
    const start = r.data.start ?? 0;
    const key = `${target ?? ""} ${id}`;
    if ((newest.get(key)?.start ?? -1) < start) newest.set(key, { start, meta: m.data });
  }
  if (!newest.size) throw bad(`${dir} holds no check results of this validator`);
  const metas = [...newest.values()].map((v) => v.meta);
  const startedAt = Math.min(...[...newest.values()].map((v) => v.start));
  return { file: dir, startedAt, metas };
}
