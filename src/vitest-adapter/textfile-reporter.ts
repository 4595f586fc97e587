import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import type { SerializedError } from "vitest";
import type { Reporter, TestModule, TestRunEndReason, Vitest } from "vitest/node";
import { EXIT } from "../remediation/errors.ts";
import { pinned } from "../remediation/pinned.ts";
import { type CheckMetric, DEFAULT_TEXTFILE_DIR, renderTextfile, scopeOf } from "../report/prometheus.ts";
import { stopRun } from "../report/run-record.ts";
import { createLocalTransport } from "../transport/local.ts";

export type TextfileOptions = { dir: string; id: string; suites: string[]; namePattern?: string };

// Where the textfile goes: $DDV_TEXTFILE_DIR (explicit: "none" or empty turns it off), else Debian's node_exporter
// directory when it exists. `explicit`: a problem with it is an error, not a quiet note.
export function textfileDir(env: NodeJS.ProcessEnv = process.env): { dir?: string; explicit: boolean } {
  const v = env.DDV_TEXTFILE_DIR;
  if (v === undefined) return { dir: DEFAULT_TEXTFILE_DIR, explicit: false };
  return { dir: v === "" || v === "none" ? undefined : v, explicit: true };
}

const isDir = (p: string) => statSync(p, { throwIfNoEntry: false })?.isDirectory() === true;

// Every run writes <dir>/ddv_<scope>.prom (see report/prometheus.ts) for node_exporter's textfile collector: written
// under a temp name and renamed into place by pinned-fs (no link followed), so the collector never reads half a file.
export default class TextfileReporter implements Reporter {
  private started = Date.now();
  private root = process.cwd();
  constructor(private readonly o: TextfileOptions) {}

  onInit(vitest: Vitest) {
    this.started = Date.now();
    this.root = vitest.config.root;
    const { dir, explicit } = textfileDir();
    if (!explicit || !dir || isDir(dir)) return;
    const why = `DDV_TEXTFILE_DIR=${dir} is not a directory: create it (node_exporter's --collector.textfile.directory) or unset it`;
    stopRun(this.o.dir, this.o.id, why);
    process.stderr.write(`\nddv: ${why}\n\nNo checks were run.\n`);
    process.exit(EXIT.config);
  }

  async onTestRunEnd(modules: ReadonlyArray<TestModule>, errors: ReadonlyArray<SerializedError>, reason: TestRunEndReason) {
    const { dir, explicit } = textfileDir();
    if (!dir) return;
    const note = (why: string) => void process.stderr.write(`ddv: no Prometheus textfile written: ${why}\n`);
    // No node_exporter here (its default directory is absent): nothing to write, and nothing to say on every run.
    if (!isDir(dir)) return;
    if (reason === "interrupted") return note("the run was interrupted");
    if (this.o.namePattern) return note("a run narrowed by -t judged only some checks, and would hide the others");
    const checks: CheckMetric[] = [];
    for (const t of modules.flatMap((m) => [...m.children.allTests()])) {
      const m = t.meta();
      if (!m.checkId || !m.severity || m.status === undefined) continue;
      checks.push({ id: m.checkId, severity: m.severity, status: m.belowFailOn ? "below" : m.status, target: m.target });
    }
    const all = readdirSync(path.join(this.root, "specs"), { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? [d.name] : []));
    const scope = scopeOf(this.o.suites, all);
    const runErrors = errors.length + modules.reduce((n, m) => n + m.errors().length, 0);
    const text = renderTextfile({ scope, checks, runErrors, endedAt: Date.now(), durationSeconds: (Date.now() - this.started) / 1000 });
    const t = createLocalTransport();
    const file = path.join(dir, `ddv_${scope}.prom`);
    try {
      const data = Buffer.from(text).toString("base64");
      await pinned(t, { op: "write", path: path.resolve(file), data, mode: 0o644, owner: process.getuid?.() ?? 0, group: process.getgid?.() ?? 0 });
    } catch (err) {
      note(`${file}: ${(err as Error).message}`);
      if (explicit) process.exitCode = 1;
    } finally {
      t.close();
    }
  }
}
