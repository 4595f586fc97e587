import { EXIT, RemediateError } from "../remediation/errors.ts";
import { describeRun, readRun } from "../report/run-record.ts";
import { showProperties } from "../probes/systemctl-show.ts";
import type { Transport } from "../transport/types.ts";
import { readRecord } from "./record.ts";
import { FAILURE_SCRIPT, GATE_REPORTS, UNITS } from "./units.ts";

// The given properties of one unit ("" for one systemd did not print).
async function show(t: Transport, unit: string, props: string[]): Promise<Record<string, string>> {
  const [shown] = await showProperties(t, [unit], props);
  return Object.fromEntries(props.map((p) => [p, shown?.one(p) ?? ""]));
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
