// `npm run bench:history [-- --rounds N]` (as root): what the run history costs the smoke gate. Boots a healthy
// reference host and runs the gate inside it, history off and on in turn (DDV_HISTORY=off / a fresh DDV_STATE_DIR),
// N times each; prints the medians, their difference, and the fingerprint's own gathering time (gatherMs, as each
// history entry records it) against the gate. Target (issue 21): at most 10% of the gate's time.
import os from "node:os";
import { buildImage } from "../fixtures/host/image.ts";
import { up } from "../fixtures/host/index.ts";
import { execInside, teardown } from "../fixtures/host/machine.ts";
import { REPO_ROOT } from "../fixtures/host/paths.ts";
import { stats, wallInside } from "./timing.ts";

const arg = process.argv.indexOf("--rounds");
const rounds = arg > 0 ? Number(process.argv[arg + 1]) : 10;
if (!Number.isInteger(rounds) || rounds < 1) {
  process.stderr.write(`bench:history: --rounds wants a whole number of at least 1, received ${JSON.stringify(process.argv[arg + 1])}\n`);
  process.exit(64);
}
if (process.getuid?.() !== 0) {
  process.stderr.write("bench:history: must run as root (it boots a reference host with systemd-nspawn)\n");
  process.exit(77);
}
const log = (s: string) => process.stderr.write(`${s}\n`);
const STATE = "/tmp/ddv-bench-history";
const GATE = ["node_modules/.bin/vitest", "run", "specs/smoke"];
const REPORTS = { DDV_REPORTS_DIR: "reports/bench-history" };

await buildImage(log);
const state = await up({ name: `t-hist-bench-${process.pid}`.slice(0, 31) });
try {
  await execInside(state, ["rm", "-rf", STATE]);
  const off: number[] = [];
  const on: number[] = [];
  const cost: number[] = [];
  const gatherMs: number[] = [];
  const timeOff = async (warmup: boolean) => off.push(...(await wallInside(state, GATE, 1, { ...REPORTS, DDV_HISTORY: "off" }, { warmup })));
  const timeOn = async (warmup: boolean) => {
    on.push(...(await wallInside(state, GATE, 1, { ...REPORTS, DDV_STATE_DIR: STATE }, { warmup })));
    const c = JSON.parse(String((await execInside(state, ["cat", `${REPO_ROOT}/${REPORTS.DDV_REPORTS_DIR}/changes.json`])).stdout)) as {
      costMs: { gather: number; record: number };
    };
    cost.push(c.costMs.gather + c.costMs.record);
    gatherMs.push(c.costMs.gather);
  };
  // ABBA order, after one warm-up each: the machine's drift hits both alike.
  for (let i = 0; i < rounds; i++) {
    if (i % 2) {
      await timeOn(i === 1);
      await timeOff(false);
    } else {
      await timeOff(i === 0);
      await timeOn(false);
    }
  }
  const entries = String((await execInside(state, ["sh", "-c", `cat ${STATE}/runs/*.json`])).stdout)
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { verdict: string });
  const gather = stats(gatherMs);
  const both = stats(cost);
  const [a, b] = [stats(off), stats(on)];
  const pct = (x: number) => `${((100 * x) / a.median).toFixed(1)}%`;
  const load = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
  process.stdout.write(
    [
      `Measured ${new Date().toISOString()} on ${os.cpus().length} cores, ${rounds} rounds, load average ${load}: min / median / max.`,
      "",
      "| figure | measured | share of the gate |",
      "|---|---|---|",
      `| smoke gate, history off | ${a.min} / **${a.median}** / ${a.max} ms |  |`,
      `| smoke gate, history on | ${b.min} / **${b.median}** / ${b.max} ms | ${pct(b.median - a.median)} (difference of medians) |`,
      `| fingerprint gathering (gatherMs, in the run) | ${gather.min} / **${gather.median}** / ${gather.max} ms | ${pct(gather.median)} |`,
      `| gathering + recording (in the run: the time the history adds) | ${both.min} / **${both.median}** / ${both.max} ms | ${pct(both.median)} |`,
      `| runs recorded | ${entries.length} (${entries.filter((e) => e.verdict === "green").length} green) |  |`,
      "",
    ].join("\n"),
  );
} finally {
  await teardown(state.name);
}
