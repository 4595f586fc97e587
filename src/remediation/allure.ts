import { createHash, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { catalogue } from "../checks/index.ts";
import { redact } from "../probes/redact.ts";
import { ALLURE_SEVERITY } from "../report/severity.ts";
import type { Outcome } from "../runner/evaluate.ts";
import type { ReportedCheck } from "./report.ts";

// One applied step as the audit report shows it.
export type StepRecord = { fix: string; title: string; ids: string[]; actions: string[]; start: number; stop: number; result: string; reason?: string };
export type RunRecord = {
  host: string;
  report: string;
  backup: string;
  steps: StepRecord[];
  manual: Array<{ id: string; why: string }>;
  // Each check as the report being fixed saw it, as re-checked before acting, and as re-checked at the end.
  reported: Map<string, ReportedCheck>;
  before: Map<string, Outcome>;
  after: Map<string, Outcome>;
};

const STATUS: Record<string, string> = { verified: "passed", "rolled back": "failed", failed: "failed" };
const ORDER = ["critical", "high", "medium", "low"] as const;
const severityOf = new Map(catalogue.map((c) => [c.id, c.severity]));

// The Allure severity of a step: its gravest check's, as the checks' own results carry it (none for unknown IDs).
function severityLabel(ids: string[]): Array<[string, string]> {
  const top = ORDER.find((sev) => ids.some((id) => severityOf.get(id) === sev));
  return top ? [["severity", ALLURE_SEVERITY[top]]] : [];
}

// Allure results of one remediation run (one result per step, plus one for the manual steps), beside the
// validator's in the same allure-results folder, so `npm run report` shows what was done about each finding.
// They carry no check_id label (a later remediation never reads them as check results) and sit under their own
// parentSuite, "remediation", apart from the checks'.
export function remediationResults(r: RunRecord, secrets: string[]): object[] {
  const clean = (s: string) => redact(s, secrets);
  const labels = (extra: Array<[string, string]>) =>
    [["parentSuite", "remediation"], ["epic", "remediation"], ["feature", "fix, re-check, roll back"], ["host", r.host], ...extra].map(([name, value]) => ({
      name,
      value,
    }));
  type Seen = Pick<ReportedCheck, "status" | "observed"> | undefined;
  const checkStep = (when: string, id: string, o: Seen, at: number) => ({
    name: `${when}: ${id} ${o?.status ?? "not checked"}${o?.observed ? ` (${clean(o.observed).slice(0, 200)})` : ""}`,
    status: o?.status === "pass" ? "passed" : o?.status === "skip" || o?.status === "waived" ? "skipped" : "failed",
    stage: "finished",
    start: at,
    stop: at,
    steps: [],
    attachments: [],
    parameters: [],
  });
  // Markdown: each observation in full (the step names cut it short), in a code block so it shows as it is.
  const seen = (when: string, o: Seen) => `${when}: **${o?.status ?? "not checked"}**${o?.observed ? `\n\n${codeBlock(clean(o.observed))}` : ""}`;
  const beforeAfter = (s: StepRecord) =>
    s.ids
      .map((id) =>
        [
          `### ${id}`,
          seen(`in the report (${r.report})`, r.reported.get(id)),
          seen("re-checked before the fix", r.before.get(id)),
          seen(s.result === "verified" ? "re-checked after the fix" : `re-checked at the end (the step ${s.result})`, r.after.get(id)),
        ].join("\n\n"),
      )
      .join("\n\n");
  const out: object[] = r.steps.map((s) => {
    const name = `remediation ${s.fix}${s.ids.length ? ` (${s.ids.join(", ")})` : ""}`;
    return {
      uuid: randomUUID(),
      historyId: createHash("md5").update(`remediation:${s.fix}`).digest("hex"),
      name,
      fullName: name,
      status: STATUS[s.result] ?? "broken",
      statusDetails: { message: clean(`${s.title}: ${s.result}${s.reason ? `: ${s.reason}` : ""}`) },
      description: beforeAfter(s) || undefined,
      stage: "finished",
      start: s.start,
      stop: s.stop,
      labels: labels([["story", s.fix], ...severityLabel(s.ids)]),
      parameters: [
        { name: "backup folder", value: r.backup },
        { name: "report", value: r.report },
      ],
      attachments: [],
      steps: [
        ...s.ids.map((id) => checkStep("in the report", id, r.reported.get(id), s.start)),
        ...s.ids.map((id) => checkStep("before", id, r.before.get(id), s.start)),
        ...s.actions.map((a) => ({
          name: clean(a.split("\n")[0] as string),
          status: s.result === "failed" ? "broken" : "passed",
          stage: "finished",
          start: s.start,
          stop: s.stop,
          steps: [],
          attachments: [],
          parameters: [],
        })),
        ...s.ids.map((id) => checkStep("after", id, r.after.get(id), s.stop)),
      ],
    };
  });
  if (r.manual.length) {
    const now = Date.now();
    out.push({
      uuid: randomUUID(),
      historyId: createHash("md5").update("remediation:manual").digest("hex"),
      name: "remediation: manual steps",
      fullName: "remediation: manual steps",
      status: "skipped",
      statusDetails: { message: clean(r.manual.map((m) => `${m.id}: ${m.why}`).join("\n")) },
      stage: "finished",
      start: now,
      stop: now,
      labels: labels([["story", "manual"], ...severityLabel(r.manual.map((m) => m.id))]),
      parameters: [],
      attachments: [],
      steps: [],
    });
  }
  return out;
}

// A Markdown code block around `text`, its fence longer than any run of backticks in it.
function codeBlock(text: string): string {
  const fence = "`".repeat(Math.max(3, ...[...text.matchAll(/`+/g)].map((m) => m[0].length + 1)));
  return `${fence}text\n${text}\n${fence}`;
}

// A fleet host's results folder under remediation-results: its name, made safe as one path component.
export function resultsFolderOf(target: string): string {
  return `host-${target.replace(/[^A-Za-z0-9._-]/g, "_")}`;
}

// The folders `npm run report` reads: remediation-results itself (one host's run) and each fleet host's.
export function remediationFolders(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const hosts = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory() && e.name.startsWith("host-"));
  return [dir, ...hosts.map((e) => path.join(dir, e.name))];
}

// Replaces the last remediation's results in `dir` (<reports>/remediation-results: the validator's next run cleans
// allure-results, this folder survives it, and `npm run report` reads both). A reports folder we cannot write is
// not worth failing a fix for.
export function writeRemediationResults(dir: string, results: object[]): string | undefined {
  try {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const r of results) writeFileSync(path.join(dir, `${(r as { uuid: string }).uuid}-result.json`), JSON.stringify(r));
    return dir;
  } catch {
    return undefined;
  }
}
