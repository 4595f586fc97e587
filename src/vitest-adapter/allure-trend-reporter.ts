import type { Reporter, TestRunEndReason } from "vitest/node";
import { reportPaths } from "../report/allure-config.ts";
import { keepRunResults } from "../report/allure-runs.ts";

export type AllureTrendOptions = { dir: string; id: string };

// Each run keeps its Allure results under <reports>/allure-runs/<id> (see report/allure-runs.ts), so the report's trend
// and every check's history show when it went red and came back, timer runs included: the next `npm run report`
// turns them into history points. After allure-vitest in the reporter list: vitest calls onTestRunEnd in order, and
// allure-vitest writes its results synchronously there.
export default class AllureTrendReporter implements Reporter {
  constructor(private readonly o: AllureTrendOptions) {}

  onTestRunEnd(_m: unknown, _e: unknown, reason: TestRunEndReason) {
    if (reason === "interrupted") return;
    const paths = reportPaths(this.o.dir);
    try {
      keepRunResults(paths.results, paths.history, this.o.id);
    } catch (err) {
      process.stderr.write(`ddv: this run's results were not kept for the report's history: ${(err as Error).message}\n`);
    }
  }
}
