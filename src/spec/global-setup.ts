import { rmSync } from "node:fs";
import { ConfigError, loadConfig } from "../config/load.ts";

// Runs once before any spec: a bad config stops the run with one message, and old allure results are cleared.
export default async function setup() {
  try {
    const config = loadConfig();
    // A waiver for an ID no check has is a typo that would silently waive nothing (loaded only when needed).
    if (config.waivers.length) {
      const { catalogue } = await import("../checks/index.ts");
      const unknown = config.waivers.map((w) => w.id).filter((id) => !catalogue.some((c) => c.id === id));
      if (unknown.length) throw new ConfigError(`waivers name unknown check IDs: ${unknown.join(", ")}`);
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`\n${err.message}\n\nNo checks were run. Fix the configuration and try again.\n`);
      process.exit(78);
    }
    throw err;
  }
  // allure-results accumulates across runs otherwise; each run's report stands alone.
  rmSync(`${process.env.DDV_REPORTS_DIR ?? "reports"}/allure-results`, { recursive: true, force: true });
}
