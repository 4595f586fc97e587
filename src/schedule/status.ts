import { EXIT, RemediateError } from "../remediation/errors.ts";
import { describeRun, readRun } from "../report/run-record.ts";
import type { Transport } from "../transport/types.ts";
import { readRecord } from "./record.ts";
import { FAILURE_SCRIPT, GATE_REPORTS, UNITS } from "./units.ts";

// systemctl show's KEY=value lines for the given properties of one unit.
async function show(t: Transport, unit: string, props: string[]): Promise<Record<string, string>> {
  const r = await t.run(["systemctl", "show", ...props.flatMap((p) => ["-p", p]), "--", unit]);
  return Object.fromEntries(r.stdout.split("\n").flatMap((l) => (l.includes("=") ? [[l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]] : [])));
}

// `schedule status`: what is installed, whether the timer runs, when the gate last ran and how it ended.
export async function status(t: Transport, say: (l: string) => void): Promise<number> {
  const r = await readRecord(t);
  if (!r) throw new RemediateError("nothing is installed (no install record in /var/lib/ddv/schedule)", EXIT.wrongHost);
  const timer = await show(t, UNITS.timer, ["ActiveState", "UnitFileState", "LastTriggerUSec"]);
  const gate = await show(t, UNITS.service, ["ActiveState", "Result", "ExecMainStatus", "ExecMainExitTimestamp"]);
  say(`installed ${r.installedAt}: every ${r.every} from ${r.checkout}${r.onFailure ? `; on failure: ${FAILURE_SCRIPT}` : ""}`);
  say(`${UNITS.timer}: ${timer.ActiveState}, ${timer.UnitFileState}; last triggered: ${timer.LastTriggerUSec || "never"}`);
  const ended = gate.ExecMainExitTimestamp ? `last run ended ${gate.ExecMainExitTimestamp}, exit ${gate.ExecMainStatus} (${gate.Result})` : "no run yet";
  say(`${UNITS.service}: ${gate.ActiveState}; ${ended}`);
  const run = readRun(GATE_REPORTS);
  say(`reports: ${GATE_REPORTS}${run ? ` (${describeRun(run)})` : ""}; HTML: DDV_REPORTS_DIR=${GATE_REPORTS} npm run report`);
  return EXIT.ok;
}
