import type { Reporter, TestRunEndReason } from "vitest/node";
import { reportPaths } from "../report/allure-config.ts";
import { appendRunHistory, loadAllure } from "../report/allure-history.ts";

export type AllureTrendOptions = { dir: string; id: string };

// Each run appends its point to <reports>/allure-history.jsonl (see report/allure-history.ts), so the report's trend
// and every check's history show when it went red and came back, timer runs included. After allure-vitest in the
// reporter list: vitest calls onTestRunEnd in order, and allure-vitest writes its results synchronously there.
export default class AllureTrendReporter implements Reporter {
  private allure?: ReturnType<typeof loadAllure>;
  constructor(private readonly o: AllureTrendOptions) {}

  onInit() {
    // Loaded while the checks run: the run's end waits only for the append itself.
    this.allure = loadAllure();
    this.allure.catch(() => {});
  }

  async onTestRunEnd(_m: unknown, _e: unknown, reason: TestRunEndReason) {
    if (reason === "interrupted") return;
    const paths = reportPaths(this.o.dir);
    await appendRunHistory(paths.results, paths.history, this.o.id, this.allure).catch((err: unknown) => {
      process.stderr.write(`ddv: this run was not added to the report's history (${paths.history}): ${(err as Error).message}\n`);
    });
  }
}
