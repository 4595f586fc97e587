import { readFileSync } from "node:fs";
import path from "node:path";
import type { Task } from "@vitest/runner";
import type { TestModule } from "vitest/node";
import { JUnitReporter } from "vitest/node";

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
  // "Changed since the last green run" (a red run's changes.json, written by the history reporter listed before this
  // one): the first <testsuite>'s <system-out>.
  private changes?: string;
  private readonly outputFile: unknown;

  constructor(options: ConstructorParameters<typeof JUnitReporter>[0]) {
    super(options);
    this.outputFile = options.outputFile;
  }

  override async onTestRunEnd(modules: ReadonlyArray<TestModule>) {
    [this.errored, this.notes, this.errors] = [new Set(), new Map(), new Map()];
    this.changes = redChanges(this.outputFile);
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
      const changes = name === "testsuite" ? this.changes : undefined;
      if (changes) this.changes = undefined; // once, in the first suite
      return super.writeElement(name, { ...attrs, failures: (attrs.failures as number) - n, errors: n }, async () => {
        await children();
        // vitest's own line writer (private in its types, as the rest of this file relies on its 4.1 internals).
        const log = (this as unknown as { baseLog: (text: string) => Promise<void> }).baseLog;
        if (changes) await super.writeElement("system-out", {}, () => log(escapeXml(changes)));
      });
    }
    return super.writeElement(name, attrs, children);
  }
}

const escapeXml = (s: string) => s.replace(/[<>&"']/g, (c) => `&${{ "<": "lt", ">": "gt", "&": "amp", '"': "quot", "'": "apos" }[c]};`);

// The text of changes.json beside the JUnit file, when this run is red and wrote one.
function redChanges(outputFile: unknown): string | undefined {
  if (typeof outputFile !== "string") return undefined;
  try {
    const c = JSON.parse(readFileSync(path.join(path.dirname(outputFile), "changes.json"), "utf8")) as { verdict?: string; text?: string };
    return c.verdict === "red" ? c.text : undefined;
  } catch {
    return undefined;
  }
}
