// `npx tsx remediate --from-report <report>`: fix what a validator run found, re-check it, roll back what did not help.
import { existsSync } from "node:fs";
import { createInterface } from "node:readline/promises";
import { ConfigError, loadConfig } from "../src/config/load.ts";
import { AUDIT_LOG } from "../src/remediation/audit.ts";
import { EXIT, RemediateError } from "../src/remediation/errors.ts";
import { remediate } from "../src/remediation/run.ts";
import { createLocalTransport } from "../src/transport/local.ts";
import { emergency } from "../src/remediation/emergency.ts";
import { rollbackRun } from "../src/remediation/rollback.ts";
import { remediateFleet } from "../src/remediation/fleet.ts";
import { resolveTargets } from "../src/fleet/targets.ts";
import { InventoryError } from "../src/fleet/inventory.ts";

const USAGE = `usage: npx tsx remediate --from-report <report> [--dry-run] [--yes] [--force-stale] [--parallel N]
       npx tsx remediate emergency-restart [--dry-run] [--yes]
       npx tsx remediate emergency-reset [--dry-run] [--yes]
       npx tsx remediate rollback <run id|latest> [--dry-run] [--yes]
  <report>       reports/vitest-report.json, a reports folder, or reports/allure-results
  --dry-run      print the plan with its diffs and SQL; change nothing
  --yes          apply without asking (required when stdin is not a terminal)
  --force-stale  accept a report older than remediation.maxReportAgeMinutes (host and catalogue must still match)
  --parallel N   fleet reports (DEPLOY_HOSTS / DEPLOY_INVENTORY set): fix N hosts at once (default 1)
  rollback       put back what a run recorded in /var/lib/ddv/remediation/<run id>/manifest.json (an interrupted
                 run, or one to undo); "latest" is the newest run; safe to repeat
exit codes: 0 all fixed and verified, 1 rolled back / failed / manual steps remain, 64 usage, 65 bad report,
            66 bad DEPLOY_HOSTS / DEPLOY_INVENTORY / DEPLOY_LIMIT, 69 the deployment is not on this host (no systemd, no such unit),
            70 internal error, 73 another remediation holds the lock, 77 not root, 78 bad config,
            130 interrupted (SIGINT/SIGTERM: the step under way rolled back)`;

const FLAGS = new Set(["--from-report", "--dry-run", "--yes", "--force-stale", "--parallel", "--help", "-h"]);

function parse(argv: string[]) {
  const o = {
    report: undefined as string | undefined,
    dryRun: false,
    yes: false,
    forceStale: false,
    parallel: 1,
    command: undefined as string | undefined,
    run: undefined as string | undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "--from-report") {
      const v = argv[++i];
      if (!v || v.startsWith("--")) throw new RemediateError(`--from-report needs a report path\n${USAGE}`, EXIT.usage);
      o.report = v;
    } else if (a === "--parallel") {
      const v = argv[++i] ?? "";
      if (!/^[1-9]\d*$/.test(v)) throw new RemediateError(`--parallel needs a count of hosts (1 or more), received ${JSON.stringify(v)}\n${USAGE}`, EXIT.usage);
      o.parallel = Number(v);
    } else if (a === "--dry-run") o.dryRun = true;
    else if (a === "--yes" || a === "-y") o.yes = true;
    else if (a === "--force-stale") o.forceStale = true;
    else if (a === "--help" || a === "-h") o.command = "help";
    else if (!a.startsWith("-") && !o.command) o.command = a;
    else if (!a.startsWith("-") && o.command === "rollback" && !o.run) o.run = a;
    else
      throw new RemediateError(
        `unknown ${FLAGS.has(a) ? "repeated option" : a.startsWith("-") ? "option" : "argument"} ${JSON.stringify(a)}\n${USAGE}`,
        EXIT.usage,
      );
  }
  return o;
}

// Asks on the terminal; without one, only --yes may apply (a pipe must never half-answer a prompt).
async function confirmer(yes: boolean): Promise<boolean> {
  if (yes) return true;
  if (!process.stdin.isTTY) throw new RemediateError("stdin is not a terminal: pass --yes to apply the plan (or --dry-run to only see it)", EXIT.usage);
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await rl.question("apply this plan? [y/N] ");
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}

async function main(argv: string[]): Promise<number> {
  const o = parse(argv);
  if (o.command === "help") {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.ok;
  }
  if (o.command && !["emergency-restart", "emergency-reset", "rollback"].includes(o.command))
    throw new RemediateError(`unknown command ${JSON.stringify(o.command)}\n${USAGE}`, EXIT.usage);
  if (!o.command && !o.report) throw new RemediateError(`say what to fix: --from-report <report>\n${USAGE}`, EXIT.usage);
  if (o.command && o.report) throw new RemediateError(`${o.command} takes no report\n${USAGE}`, EXIT.usage);
  if (o.command === "rollback" && !o.run)
    throw new RemediateError(`rollback needs a run: a folder name under /var/lib/ddv/remediation, or latest\n${USAGE}`, EXIT.usage);
  const say = (l: string) => void process.stdout.write(`${l}\n`);
  const confirm = () => confirmer(o.yes);
  // The validator's order and codes: the config first (78), then the hosts (66), then each host's own config (78).
  const config = loadConfig();
  const targets = await resolveTargets().catch((err: unknown) => {
    throw err instanceof InventoryError ? new RemediateError(err.message, EXIT.targets) : err;
  });
  // A fleet: each host is reached over ssh (as root, or with passwordless sudo there); this machine is not changed.
  if (targets) {
    if (o.command) throw new RemediateError(`${o.command} works on the host it runs on: run it there, without DEPLOY_HOSTS / DEPLOY_INVENTORY`, EXIT.usage);
    for (const t of targets) loadConfig(process.env, process.cwd(), t);
    return remediateFleet({ report: o.report as string, targets, parallel: o.parallel, say, confirm, dryRun: o.dryRun, forceStale: o.forceStale });
  }
  if (process.getuid?.() !== 0) throw new RemediateError("remediate changes system files and services: run it as root", EXIT.notRoot);
  const transport = () => createLocalTransport(config.timeouts.commandMs);
  if (o.command === "rollback") return rollbackRun({ which: o.run as string, transport, say, confirm, dryRun: o.dryRun });
  if (o.command) return emergency(o.command, { config, transport, say, confirm, dryRun: o.dryRun });
  return remediate({ report: o.report as string, config, transport, say, confirm, dryRun: o.dryRun, forceStale: o.forceStale });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof RemediateError) {
      process.stderr.write(`remediate: ${err.message}\n`);
      process.exit(err.exitCode);
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`remediate: ${err.message}\n`);
      process.exit(EXIT.config);
    }
    const e = err as Error;
    const where = e.stack?.split("\n")[1]?.trim() ?? "";
    // The audit log is named only where there is one (a dry run, or a refusal before any step, writes none).
    const log = existsSync(AUDIT_LOG) ? `, see the audit log ${AUDIT_LOG}` : "";
    process.stderr.write(`remediate: internal error: ${e.message} (${where}); nothing more was changed${log}\n`);
    process.exit(EXIT.internal);
  },
);
