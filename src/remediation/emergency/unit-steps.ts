import type { Config } from "../../config/schema.ts";
import { showProperties } from "../../probes/systemctl-show.ts";
import type { Transport } from "../../transport/types.ts";
import { cgroupPids } from "./cgroup.ts";
import { describeProc, procInfo, waitGone } from "./procs.ts";
import type { StepOutcome } from "./steps.ts";

// One property of one unit ("" when systemd printed none).
export async function showProp(t: Transport, unit: string, prop: string): Promise<string> {
  const [shown] = await showProperties(t, [unit], [prop]);
  return shown?.one(prop).trim() ?? "";
}

// Kills what a stopped unit left in its own cgroup (systemd may fail to, e.g. in a container): systemctl kill first,
// then SIGKILL to each PID the cgroup still lists. Nothing outside the cgroup is touched.
export async function killLeftovers(t: Transport, id: string, cgroup: string): Promise<StepOutcome> {
  const left = await cgroupPids(t, cgroup);
  if (!left.length) return { result: "skipped", detail: "the unit's cgroup is empty" };
  const who = (await Promise.all(left.map((p) => procInfo(t, p)))).filter((p) => p !== undefined).map(describeProc);
  await t.run(["systemctl", "kill", "--kill-who=all", "--signal=SIGKILL", "--", id]);
  let still = await waitGone(t, left, 3000);
  const listed = new Set(await cgroupPids(t, cgroup));
  still = still.filter((p) => listed.has(p));
  if (still.length) await t.run(["kill", "-KILL", ...still.map(String)]);
  still = (await waitGone(t, still, 3000)).filter((p) => listed.has(p));
  if (still.length) throw new Error(`pid ${still.join(", ")} of the unit's cgroup survived SIGKILL`);
  return { detail: `killed ${who.length}: ${who.join(", ")}` };
}

// The "start <unit>" step's body: starts `unit` afresh and says its state; a failed start fails the step with
// systemctl's last stderr line (the one that names the cause).
export async function startUnit(t: Transport, config: Config, unit: string): Promise<string> {
  await t.run(["systemctl", "reset-failed", "--", unit]); // a crash loop may have hit the start limit
  const r = await t.run(["systemctl", "start", "--", unit], { timeoutMs: config.timeouts.commandMs * 3 });
  if (r.exitCode !== 0) throw new Error(`systemctl start exited ${r.exitCode}: ${r.stderr.trim().split("\n").slice(-1)[0] ?? ""}`);
  return `${unit} is ${await showProp(t, unit, "ActiveState")}`;
}
