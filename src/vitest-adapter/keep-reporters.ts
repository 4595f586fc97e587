import type { Plugin } from "vite";
import type { Reporter } from "vitest/node";
import { EXIT } from "../remediation/errors.ts";

// A reporter as the config names it: a name or path, and its options.
export type ReporterEntry = [string, Record<string, unknown>];
type Resolved = Reporter | [string, object];

const nameOf = (r: Resolved) => (Array.isArray(r) ? r[0] : undefined);

// The project's reporters (`ours`) are written whatever --reporter is given. vitest lets CLI reporters replace the
// config's (a CLI `json` even takes our json's options, so --outputFile is ignored): here a user's reporter is added to
// ours instead, with vitest's own defaults (it honours --outputFile, or writes to stdout). The terminal reporter is
// the user's choice: "default" only when none is given. --outputFile without --reporter would be ignored: refused.
export function keepReporters(ours: ReporterEntry[], reportsDir: string): Plugin {
  const names = new Set(ours.map((r) => r[0]));
  return {
    name: "ddv-keep-reporters",
    configureVitest({ vitest }) {
      const given = vitest.config.reporters as Resolved[];
      const first = ours[0]?.[0];
      if (given.some((r) => nameOf(r) === first)) {
        if (vitest.config.outputFile) refuseOutputFile(reportsDir);
        return; // no --reporter: the config's list as written
      }
      const theirs = given.map((r): Resolved => (names.has(nameOf(r) as string) ? [nameOf(r) as string, {}] : r));
      vitest.config.reporters = [...ours, ...theirs] as typeof vitest.config.reporters;
    },
  };
}

function refuseOutputFile(dir: string): never {
  process.stderr.write(
    `ddv: --outputFile applies to a reporter you add with --reporter (say --reporter=junit --outputFile=ci.xml); this project's ` +
      `reports always go to ${dir}/ (vitest-report.json, junit.xml, allure-results, run.json): set DDV_REPORTS_DIR to move them\n`,
  );
  process.exit(EXIT.usage);
}
