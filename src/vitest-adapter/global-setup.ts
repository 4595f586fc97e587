import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { ConfigError, loadConfig } from "../config/load.ts";
import { InventoryError } from "../fleet/inventory.ts";
import { EXIT } from "../remediation/errors.ts";
import { reportsDir } from "../report/paths.ts";
import { stopRun } from "../report/run-record.ts";
import { hostBound, resolveTargets } from "../fleet/targets.ts";
import { CRITICAL_WAIVER_DAYS, criticalWaiverProblems } from "./waivers.ts";
import { wrongMachine } from "./where.ts";

// Runs once before any spec: a bad config or inventory stops the run with one message, the fleet's hosts are
// resolved (once, for every worker); a run stopped here says so in run.json and junit.xml (run-reporter.ts cleared
// the previous run's reports). For a fleet, returns the teardown that removes the run's ssh control directories
// (workers end without running exit handlers).
export default async function setup(project: TestProject) {
  let sshDir: string | undefined;
  // The unit to look for on this machine (undefined for a fleet run: the hosts are elsewhere).
  let service: string | undefined;
  try {
    const config = loadConfig();
    const targets = await resolveTargets();
    if (!targets) service = config.service;
    // Each host's own settings (inventory ddv_config) must make a valid config too, before anything connects.
    for (const t of targets ?? []) loadConfig(process.env, process.cwd(), t);
    if (targets) hostBound(); // a bad DEPLOY_PARALLEL stops the run here, not in a worker
    if (targets) {
      project.provide("ddvTargets", targets);
      sshDir = mkdtempSync(path.join(tmpdir(), "ddv-run-"));
      project.provide("ddvSshDir", sshDir);
    }
    // A waiver for an ID no check has is a typo that would silently waive nothing (loaded only when needed).
    if (config.waivers.length) {
      const { catalogue } = await import("../checks/index.ts");
      const unknown = config.waivers.map((w) => w.id).filter((id) => !catalogue.some((c) => c.id === id));
      if (unknown.length) throw new ConfigError(`waivers name unknown check IDs: ${unknown.join(", ")}`);
      const bad = criticalWaiverProblems(config.waivers, new Set(catalogue.filter((c) => c.severity === "critical").map((c) => c.id)), new Date());
      if (bad.length) throw new ConfigError(`waivers of critical checks must name a host and expire within ${CRITICAL_WAIVER_DAYS} days: ${bad.join("; ")}`);
      // Every waiver in force is said before any check, so an accepted finding is never a silent one.
      const today = new Date().toLocaleDateString("sv-SE");
      for (const w of config.waivers.filter((x) => x.expires >= today))
        process.stderr.write(`ddv: waiver in force: ${w.id}${w.host ? ` on ${w.host}` : ""} until ${w.expires}: ${w.reason}\n`);
    }
  } catch (err) {
    if (err instanceof ConfigError || err instanceof InventoryError) stopRun(reportsDir(), project.getProvidedContext().ddvRun?.id, err.message.trim());
    if (err instanceof ConfigError) {
      process.stderr.write(`\n${err.message}\n\nNo checks were run. Fix the configuration and try again.\n`);
      process.exit(EXIT.config);
    }
    if (err instanceof InventoryError) {
      process.stderr.write(`\n${err.message}\n\nNo checks were run. Fix DEPLOY_HOSTS / DEPLOY_INVENTORY / DEPLOY_LIMIT and try again.\n`);
      process.exit(EXIT.targets);
    }
    throw err;
  }
  // This machine cannot be the deployment's host: said once, before the checks; each check that could not look
  // here says so in a line of its own and points to this (the workers read it).
  const why = service ? wrongMachine(service) : undefined;
  if (why) {
    process.stderr.write(`ddv: ${why.note}\n\n`);
    project.provide("ddvWhere", why);
  }
  // By then the workers are gone, and with them every master connection (its remote end reads their pipe).
  return sshDir ? () => rmSync(sshDir as string, { recursive: true, force: true }) : undefined;
}
