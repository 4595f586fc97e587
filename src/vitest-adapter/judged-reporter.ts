import type { Reporter, TestModule } from "vitest/node";

// A run that judged no check is not a green gate: a -t that matches nothing, or one that filters every check out,
// would otherwise exit 0 with every test skipped. Runs in vitest's main process; vitest only ever raises exitCode.
export default class JudgedReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>) {
    const tests = modules.flatMap((m) => [...m.children.allTests()]);
    // Every check the run evaluated carries its status in meta (skips as blocked or waived included).
    const judged = tests.filter((t) => (t.meta() as { status?: string }).status !== undefined).length;
    if (judged > 0 || !tests.length) return;
    process.stderr.write(
      `\nddv: none of the ${tests.length} checks was judged in this run (every one was filtered out, by -t or otherwise): this is not a green gate.\n`,
    );
    process.exitCode = 1;
  }
}
