import { rmSync } from "node:fs";
import path from "node:path";
import { loadConfig } from "../config/load.ts";
import type { Target } from "../fleet/targets.ts";
import { reportsDir } from "../report/paths.ts";
import { openTransport } from "../transport/open.ts";
import { EXIT, RemediateError } from "./errors.ts";
import { type Report, readFleetReport } from "./report.ts";
import { type RemediateOptions, remediate } from "./run.ts";

export type FleetOptions = Pick<RemediateOptions, "dryRun" | "forceStale" | "confirm"> & {
  report: string;
  targets: Target[];
  parallel: number;
  say: (line: string) => void;
};

// A host's remediation over its own connection (one master connection for all its steps and re-checks).
async function remediateHost(o: FleetOptions, target: Target, report: Report): Promise<number> {
  const config = loadConfig(process.env, process.cwd(), target);
  const t = openTransport(target.ssh, config.timeouts.commandMs);
  // Every line names its host (a plan's diff spans several lines).
  const say = (l: string) =>
    o.say(
      l
        .split("\n")
        .map((x) => `[${target.name}] ${x}`)
        .join("\n"),
    );
  try {
    // Fixes write system files and restart services: as root there, or through passwordless sudo (become).
    const uid = (await t.run(["id", "-u"])).stdout.trim();
    if (uid !== "0")
      throw new RemediateError(
        `the ssh user on ${target.name} is not root (uid ${uid}): connect as root, or set ansible_become=true with passwordless sudo`,
        EXIT.notRoot,
      );
    return await remediate({ ...o, report, config, say, transport: () => t });
  } catch (err) {
    if (err instanceof RemediateError) {
      say(`refused: ${err.message}`);
      return err.exitCode;
    }
    say(`could not remediate: ${(err as Error).message}`);
    return EXIT.partial;
  } finally {
    if (t.kind === "ssh") t.dispose();
  }
}

// --from-report on a fleet report: each host fixes its own failures, `parallel` hosts at a time (one by default),
// and no further host starts once one did not end fixed and verified. Resolves the worst exit code.
export async function remediateFleet(o: FleetOptions): Promise<number> {
  const reports = readFleetReport(o.report);
  const byName = new Map(o.targets.map((t) => [t.name, t]));
  const unknown = reports.filter((r) => !byName.has(r.target as string)).map((r) => r.target);
  if (unknown.length)
    throw new RemediateError(
      `report ${o.report} names host(s) ${unknown.join(", ")} that DEPLOY_HOSTS / DEPLOY_INVENTORY (with DEPLOY_LIMIT) does not: use the run's own host list`,
      EXIT.badReport,
    );
  // The last remediation's results make way for this one's: each host then writes its own folder.
  if (!o.dryRun) rmSync(path.join(reportsDir(), "remediation-results"), { recursive: true, force: true });
  const queue = [...reports];
  const codes: number[] = [];
  let stopped: string | undefined;
  const worker = async () => {
    // Checked before taking the next host, so a host not attempted stays in the queue (and in the message).
    while (!stopped && queue.length) {
      const r = queue.shift() as Report;
      const code = await remediateHost(o, byName.get(r.target as string) as Target, r);
      codes.push(code);
      if (code !== EXIT.ok && !stopped) stopped = r.target;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.parallel, reports.length)) }, worker));
  if (stopped && queue.length) o.say(`stopped after ${stopped} did not end fixed and verified; not attempted: ${queue.map((r) => r.target).join(", ")}`);
  const worst = codes.find((c) => c !== EXIT.ok && c !== EXIT.partial) ?? codes.find((c) => c !== EXIT.ok);
  return worst ?? (queue.length ? EXIT.partial : EXIT.ok);
}
