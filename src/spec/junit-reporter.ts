import type { Task } from "@vitest/runner";
import type { TestModule } from "vitest/node";
import { JUnitReporter } from "vitest/reporters";

// vitest's JUnit XML, keeping two facts it drops: a check that could not be checked is an <error> (counted in errors=,
// not failures=), and a skip says why (<skipped message="...">). Works through vitest's own writeTasks and
// writeElement (vitest 4.1), so names, classnames and everything else stay vitest's; test/unit/junit-reporter.test.ts
// runs it, so a vitest upgrade that changes them fails there.
export default class CheckJUnitReporter extends JUnitReporter {
  // By test ID: the checks that errored, and each skip's reason (blocked by a root, below failOn, waived, not
  // configured here: what register.ts gave ctx.skip). By file (as its <testsuite> is named): how many errored.
  private errored = new Set<string>();
  private notes = new Map<string, string>();
  private errors = new Map<string, number>();
  // The testcase being written.
  private current?: Task;

  override async onTestRunEnd(modules: ReadonlyArray<TestModule>) {
    [this.errored, this.notes, this.errors] = [new Set(), new Map(), new Map()];
    for (const m of modules) {
      const tests = [...m.children.allTests()];
      for (const t of tests) {
        const r = t.result();
        // register.ts fails a check it could not judge (a probe timed out, permission denied) with meta.status "error".
        if (r.state === "failed" && t.meta().status === "error") this.errored.add(t.id);
        if (r.state === "skipped" && r.note) this.notes.set(t.id, r.note);
      }
      this.errors.set(m.relativeModuleId, tests.filter((t) => this.errored.has(t.id)).length);
    }
    await super.onTestRunEnd(modules);
  }

  override async writeTasks(tasks: Task[], filename: string) {
    for (const t of tasks) {
      this.current = t;
      // A skip with a reason gets our <skipped> (in writeElement), not vitest's bare one.
      await super.writeTasks([this.notes.has(t.id) ? { ...t, mode: "run" } : t], filename);
    }
    this.current = undefined;
  }

  override async writeElement(name: string, attrs: Record<string, unknown>, children: () => Promise<void>) {
    const id = this.current?.id ?? "";
    if (name === "failure" && this.errored.has(id)) return super.writeElement("error", attrs, children);
    const note = name === "testcase" ? this.notes.get(id) : undefined;
    if (note !== undefined)
      return super.writeElement(name, attrs, async () => {
        await children();
        await super.writeElement("skipped", { message: note }, async () => {});
      });
    if (name === "testsuite" || name === "testsuites") {
      const n = name === "testsuite" ? (this.errors.get(attrs.name as string) ?? 0) : [...this.errors.values()].reduce((a, b) => a + b, 0);
      return super.writeElement(name, { ...attrs, failures: (attrs.failures as number) - n, errors: n }, children);
    }
    return super.writeElement(name, attrs, children);
  }
}
