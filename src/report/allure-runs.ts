import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import path from "node:path";
import { HISTORY_LIMIT } from "./allure-config.ts";
import { appendRunHistory, splitHistory } from "./allure-history.ts";

// Each run's Allure results, kept until a report build turns them into history points: <reports>/allure-runs/<id>.
// Copying a run's result files costs milliseconds; Allure's own code (half a second to load) runs only at build time.
const runsDir = (history: string) => path.join(path.dirname(history), "allure-runs");

// Keeps run `id`'s result files (the last HISTORY_LIMIT runs). False when the run wrote none (stopped before checking).
export function keepRunResults(results: string, history: string, id: string): boolean {
  const names = existsSync(results) ? readdirSync(results).filter((f) => f.endsWith("-result.json")) : [];
  if (!names.length) return false;
  // Copied under a temporary name and renamed whole: a build folding meanwhile never reads half a run.
  const to = path.join(runsDir(history), id);
  const tmp = `${to}.partial`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  for (const f of names) copyFileSync(path.join(results, f), path.join(tmp, f));
  rmSync(to, { recursive: true, force: true });
  renameSync(tmp, to);
  const kept = readdirSync(runsDir(history))
    .filter((d) => !d.endsWith(".partial"))
    .sort();
  for (const old of kept.slice(0, Math.max(0, kept.length - HISTORY_LIMIT))) rmSync(path.join(runsDir(history), old), { recursive: true, force: true });
  return true;
}

// Turns every kept run (oldest first) into its history point, made by Allure's own code, then drops its copy.
// Returns how many points were added.
export async function foldKeptRuns(history: string): Promise<number> {
  const dir = runsDir(history);
  if (!existsSync(dir)) return 0;
  let added = 0;
  for (const id of readdirSync(dir)
    .filter((d) => !d.endsWith(".partial"))
    .sort()) {
    if (!splitHistory(history, id).mine.length && (await appendRunHistory(path.join(dir, id), history, id))) added++;
    rmSync(path.join(dir, id), { recursive: true, force: true });
  }
  return added;
}
