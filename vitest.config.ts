import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { newRunId } from "./src/report/run-record.ts";
import { keepReporters, type ReporterEntry } from "./src/vitest-adapter/keep-reporters.ts";
import { selectRun } from "./src/vitest-adapter/run-selection.ts";

const require = createRequire(import.meta.url);

const args = process.argv.slice(2);
// Which suites this run reports. specs/smoke repeats the smoke checks of every suite: it runs only when a filter
// asks for it alone (`smoke`, `specs/smoke`), so a full `npx vitest run` reports each check once.
const run = { ...selectRun(args, fileURLToPath(new URL(".", import.meta.url))), id: newRunId() };
// Where the JSON report, JUnit XML, allure-results and run.json go (the e2e tests give each host run its own folder).
const reports = process.env.DDV_REPORTS_DIR ?? "reports";
// The project's reporters, written whatever --reporter adds (see keep-reporters.ts). The run's record comes first: it
// clears the previous run's reports before the others open theirs, so every file here is this run's.
const ours: ReporterEntry[] = [
  ["./src/vitest-adapter/run-reporter.ts", { dir: reports, id: run.id, argv: args }],
  // The run history (fingerprint, "changed since the last green run"): before JUnit and Allure, which show its changes.
  ["./src/vitest-adapter/history-reporter.ts", { dir: reports, id: run.id }],
  // A run that judged no check exits non-zero (see the file).
  ["./src/vitest-adapter/judged-reporter.ts", {}],
  ["json", { outputFile: `${reports}/vitest-report.json`, filterMeta: (k: string) => k !== "allureRuntimeMessages" }],
  // For CI systems: each testcase is named "<check ID> <title>"; a failure carries the terminal's message, a check that
  // could not be checked is an <error>, a skip says why (vitest's junit reporter, see the file).
  ["./src/vitest-adapter/junit-reporter.ts", { outputFile: `${reports}/junit.xml`, suiteName: "django-deploy-validator", classnameTemplate: "{filename}" }],
  [require.resolve("allure-vitest/reporter"), { resultsDir: `${reports}/allure-results`, reportMatchers: false }],
  // After allure-vitest: the run's point in the report's history (trend), from the results it has just written.
  ["./src/vitest-adapter/allure-trend-reporter.ts", { dir: reports, id: run.id }],
  // node_exporter's textfile (ddv_<scope>.prom) in $DDV_TEXTFILE_DIR or /var/lib/prometheus/node-exporter.
  ["./src/vitest-adapter/textfile-reporter.ts", { dir: reports, id: run.id, suites: run.suites, namePattern: run.namePattern }],
];

export default defineConfig({
  plugins: [keepReporters(ours, reports)],
  test: {
    include: ["specs/**/*.spec.ts"],
    exclude: run.suites.includes("smoke") ? [] : ["specs/smoke/**"],
    // Which suites this run reports, so a check is only skipped as blocked by a root the run also shows; its id.
    provide: { ddvRun: run },
    tags: [{ name: "smoke", description: "post-deploy gate: fast, read-only, cross-suite" }],
    globalSetup: ["src/vitest-adapter/global-setup.ts"],
    setupFiles: ["allure-vitest/setup"],
    // One worker with shared modules: loaded once; each spec file has one probe context, keep-alive agent and DB connection.
    pool: "threads",
    isolate: false,
    fileParallelism: false,
    // Transformed modules persist between runs (node_modules/.experimental-vitest-cache): a faster gate.
    experimental: { fsModuleCache: true },
    testTimeout: 60_000,
    hookTimeout: 30_000,
    includeTaskLocation: true,
    reporters: ["default", ...ours],
  },
});
