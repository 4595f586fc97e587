import { nameService } from "../checks/define.ts";
import { checkById } from "../checks/index.ts";
import { dropCheckPrefix, type Outcome } from "../runner/evaluate.ts";
import type { Fix, FixEnv, Action } from "./fix.ts";
import { fixById } from "./fixes/index.ts";
import { restartService } from "./fixes/service.ts";
import type { Report } from "./report.ts";
import { isRed } from "./recheck.ts";
import { identityOf, inspectPaths } from "./pinned.ts";

// One step of a plan: a fix, the IDs it cures, and its actions.
export type Step = { fix: Fix; ids: string[]; actions: Action[]; notes: string[]; touches: { files: string[]; units: string[] } };
// A failing ID no fix can cure here, with what the operator should do.
export type Manual = { id: string; why: string };

// The IDs a report asks to fix: its failures and the root causes its failures and errors were blamed on.
// Checks skipped as blocked are never targets (their root is); waived ones are accepted, not fixed.
export function targetIds(report: Report): { targets: string[]; couldNotCheck: string[] } {
  const targets = new Set<string>();
  const couldNotCheck: string[] = [];
  for (const c of report.checks) {
    if (c.status === "fail") targets.add(c.id);
    if (c.status === "error") couldNotCheck.push(c.id);
    if ((c.status === "fail" || c.status === "error") && c.rootCause) targets.add(c.rootCause);
  }
  return { targets: [...targets], couldNotCheck: couldNotCheck.filter((id) => !targets.has(id)) };
}

// Paths and units an action touches, to hold it to what its fix declared.
function touched(a: Action): { file?: string; unit?: string } {
  if ("path" in a) return { file: a.path };
  if (a.kind === "unit" || a.kind === "restart-until-green") return { unit: a.unit };
  return {};
}

const globMatch = (pattern: string, s: string) => new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`).test(s);

// Groups the red IDs by fix, asks each fix for its plan, and orders the steps (the app restart after what it loads).
export async function buildPlan(red: string[], baseline: Map<string, Outcome>, env: Omit<FixEnv, "ids">): Promise<{ steps: Step[]; manual: Manual[] }> {
  const manual: Manual[] = [];
  // The catalogue's advice, naming the real unit where it says <service>.
  const advice = (id: string) => nameService(checkById(id).recommendation, env.config.service);
  const groups = new Map<Fix, string[]>();
  for (const id of red) {
    const check = checkById(id);
    const o = baseline.get(id);
    if (o?.status === "error") {
      manual.push({ id, why: `could not be checked (${dropCheckPrefix(o.observed)}); make it checkable, then run the validator again` });
      continue;
    }
    const fix = check.fixId ? fixById(check.fixId) : undefined;
    if (!fix) {
      manual.push({ id, why: advice(id) });
      continue;
    }
    groups.set(fix, [...(groups.get(fix) ?? []), id]);
  }
  const steps: Step[] = [];
  for (const [fix, ids] of groups) {
    const step = await planStep(fix, ids, env);
    if ("why" in step) for (const id of ids) manual.push({ id, why: `${step.why}; ${advice(id)}` });
    else {
      for (const [id, why] of Object.entries(step.manualIds)) manual.push({ id, why: `${fix.id} cannot cure it here: ${why}; ${advice(id)}` });
      steps.push({ ...step, ids: step.ids.filter((id) => !(id in step.manualIds)) });
    }
  }
  // A crash loop whose cause a step may cure (SVC-003 has no fix of its own): the app is restarted after the steps
  // and watched until it runs steadily, instead of waiting for systemd's next automatic restart.
  const looping = red.includes("SVC-003") && steps.length > 0;
  if ((looping || steps.some((s) => s.fix.restartsApp)) && !steps.some((s) => s.fix === restartService)) {
    const r = await planStep(restartService, [], env);
    if ("why" in r) for (const s of steps.filter((x) => x.fix.restartsApp)) s.notes.push(`the app cannot be restarted to load this: ${r.why}`);
    else steps.push(r);
  }
  steps.sort((a, b) => a.fix.rank - b.fix.rank);
  return { steps, manual: manual.sort((a, b) => a.id.localeCompare(b.id)) };
}

async function planStep(fix: Fix, ids: string[], env: Omit<FixEnv, "ids">): Promise<(Step & { manualIds: Record<string, string> }) | { why: string }> {
  const fe = { ...env, ids };
  let p: Awaited<ReturnType<Fix["plan"]>>;
  try {
    p = await fix.plan(fe);
  } catch (err) {
    return { why: `${fix.id} could not plan: ${(err as Error).message}` };
  }
  if ("manual" in p) return { why: `${fix.id} cannot act here: ${p.manual}` };
  if (!p.actions.length) return { why: Object.values(p.manualIds ?? {})[0] ?? `${fix.id} finds nothing to change` };
  const decl = await fix.touches(fe);
  for (const a of p.actions) {
    const { file, unit } = touched(a);
    if (file && !decl.files.some((f) => file === f.replace(/\/+$/, "") || file.startsWith(f.endsWith("/") ? f : `${f}/`)))
      throw new Error(`fix ${fix.id} planned to touch ${file}, outside what it declares (${decl.files.join(", ")})`);
    if (unit && !decl.units.some((u) => globMatch(u, unit)))
      throw new Error(`fix ${fix.id} planned to touch unit ${unit}, outside what it declares (${decl.units.join(", ")})`);
  }
  const refused = await pinFiles(env.transport, p.actions);
  if (refused) return { why: `${fix.id} will not act: ${refused}` };
  return { fix, ids, actions: p.actions, notes: p.notes ?? [], touches: decl, manualIds: p.manualIds ?? {} };
}

// Plans a step again, as the host is now: a step whose files an earlier step of the run changed composes with that
// change (its plan was made from the file before it, and is held to the object seen then, now replaced).
export async function replanStep(step: Step, env: Omit<FixEnv, "ids">): Promise<Step | { why: string }> {
  const again = await planStep(step.fix, step.ids, env);
  return "why" in again ? again : { ...step, actions: again.actions };
}

// The files a step's actions change.
export function stepFiles(step: Pick<Step, "actions">): string[] {
  return [...new Set(step.actions.flatMap((a) => touched(a).file ?? []))];
}

// Looks at every path the actions change, links not followed, in one call: a link on the way (or at the path, unless
// a mkdir replaces nothing) refuses the step; each change is held to the object seen here (device, inode, owner, mode).
async function pinFiles(t: FixEnv["transport"], actions: Action[]): Promise<string | undefined> {
  const files = actions.filter(
    (a): a is Extract<Action, { path: string }> => a.kind === "write" || a.kind === "chmod" || a.kind === "chown" || a.kind === "mkdir",
  );
  const seen = await inspectPaths(t, [...new Set(files.map((a) => a.path))]);
  for (const a of files) {
    const f = seen.get(a.path);
    if (!f || f.kind === "missing") continue;
    if (f.kind === "refused") return f.why;
    if (f.kind === "link")
      return (
        `refused: ${a.path} is a symbolic link${f.target ? ` (to ${f.target})` : ""}: ` +
        "root does not act through links; replace it with the real file by hand if it belongs there"
      );
    if (f.kind === "file" && f.nlink > 1 && a.kind !== "mkdir")
      return `refused: ${a.path} has ${f.nlink} hard links: another name may be a file outside the deployment`;
    if (a.kind !== "mkdir") a.expect ??= identityOf(f);
  }
  return undefined;
}

// Whether an outcome map shows any of `ids` red.
export const redOf = (ids: string[], m: Map<string, Outcome>) => ids.filter((id) => isRed(m.get(id)));
