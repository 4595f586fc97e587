import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { selectRun } from "./src/spec/run-selection.ts";

const require = createRequire(import.meta.url);

// specs/smoke repeats the smoke checks of every suite; run it only when asked for by path,
// so a full `npx vitest run` reports each check once.
const args = process.argv.slice(2);
const wantsSmoke = args.some((a) => /(^|\/)specs\/smoke\b/.test(a));
// Where the JSON report, JUnit XML and allure-results go (the e2e tests give each host run its own folder).
const reports = process.env.DDV_REPORTS_DIR ?? "reports";

export default defineConfig({
  test: {
    include: ["specs/**/*.spec.ts"],
    exclude: wantsSmoke ? [] : ["specs/smoke/**"],
    // Which suites this run reports, so a check is only skipped as blocked by a root the run also shows.
    provide: { ddvRun: selectRun(args, fileURLToPath(new URL(".", import.meta.url))) },
    tags: [{ name: "smoke", description: "post-deploy gate: fast, read-only, cross-suite" }],
    globalSetup: ["src/spec/global-setup.ts"],
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
    reporters: [
      "default",
      // A run that judged no check exits non-zero (see the file).
      "./src/spec/judged-reporter.ts",
      ["json", { outputFile: `${reports}/vitest-report.json`, filterMeta: (k: string) => k !== "allureRuntimeMessages" }],
      // For CI systems: each testcase is named "<check ID> <title>"; a failure carries the terminal's message, a check that
      // could not be checked is an <error>, a skip says why (vitest's junit reporter, see the file).
      ["./src/spec/junit-reporter.ts", { outputFile: `${reports}/junit.xml`, suiteName: "django-deploy-validator", classnameTemplate: "{filename}" }],
      [require.resolve("allure-vitest/reporter"), { resultsDir: `${reports}/allure-results`, reportMatchers: false }] as [string, Record<string, unknown>],
    ],
  },
});
