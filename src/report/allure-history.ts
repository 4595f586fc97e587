import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { HISTORY_LIMIT } from "./allure-config.ts";

// Allure's history holds one point per validator run (not per report build): each run keeps its results
// (allure-runs.ts) and a build turns every kept run into its point, so the trend and a check's history show every
// run, the timer's too.

// The name that marks run `id`'s point in the history file (Allure keeps it as the point's name).
export const pointName = (id: string) => `ddv run ${id}`;

// Loads Allure's own history code (about half a second): only a report build does.
export const loadAllure = () => import("@allurereport/core");

// Appends run `id`'s point, made by Allure itself from the run's results (its reader, ids and history format),
// keeping the last HISTORY_LIMIT points. Nothing when the run wrote no results (it stopped before any check).
export async function appendRunHistory(results: string, history: string, id: string, allure = loadAllure()): Promise<boolean> {
  if (!existsSync(results) || !readdirSync(results).some((f) => f.endsWith("-result.json"))) return false;
  const { AllureReport, resolveConfig } = await allure;
  // No plugins (as `allure history` runs it): nothing is generated but the point; Allure's bookkeeping goes to a temp dir.
  const output = mkdtempSync(path.join(tmpdir(), "ddv-allure-history-"));
  try {
    const config = await resolveConfig({ name: pointName(id), historyPath: history, historyLimit: HISTORY_LIMIT, output, plugins: {} }, { plugins: {} });
    const report = new AllureReport(config);
    await report.start();
    await report.readDirectory(results);
    await report.done();
  } finally {
    rmSync(output, { recursive: true, force: true });
  }
  return true;
}

// The history lines, split into run `id`'s point(s) and the others (earlier runs), as written.
export function splitHistory(history: string, id: string): { mine: string[]; others: string[] } {
  const lines = existsSync(history)
    ? readFileSync(history, "utf8")
        .split("\n")
        .filter((l) => l.trim())
    : [];
  const isMine = (l: string) => {
    try {
      return (JSON.parse(l) as { name?: string }).name === pointName(id);
    } catch {
      return false;
    }
  };
  return { mine: lines.filter(isMine), others: lines.filter((l) => !isMine(l)) };
}

// The history a report of run `id` is built with: every point but the run's own (the report shows the run itself;
// its point in its own history would count it twice). Written to `to`.
export function historyBefore(history: string, id: string, to: string): void {
  const { others } = splitHistory(history, id);
  writeFileSync(to, others.length ? `${others.join("\n")}\n` : "");
}
