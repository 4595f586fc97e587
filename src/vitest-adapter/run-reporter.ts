import type { Reporter, TestModule, TestRunEndReason } from "vitest/node";
import { endRun, startRun } from "../report/run-record.ts";

export type RunReporterOptions = { dir: string; id: string; argv: string[] };

// Opens and closes the run's record (reports/run.json). First among the reporters: its onInit, synchronous, clears
// the previous run's reports before the JSON, JUnit and Allure reporters open theirs (vitest calls them in order).
export default class RunReporter implements Reporter {
  constructor(private readonly o: RunReporterOptions) {}

  onInit() {
    startRun(this.o.dir, this.o.id, this.o.argv);
  }

  onTestRunEnd(_m: ReadonlyArray<TestModule>, _e: unknown, reason: TestRunEndReason) {
    endRun(this.o.dir, this.o.id, reason === "interrupted" ? "interrupted" : "finished");
  }
}
