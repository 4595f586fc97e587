// One benchmark run as a record (bench/history.jsonl) and as the Markdown table the README quotes.
import type { Gate } from "./gate.ts";
import type { LoadComparison } from "./load.ts";
import type { Marginal } from "./marginal.ts";
import type { Stats } from "./timing.ts";

export type Run = {
  at: string;
  commit: string;
  rounds: number;
  machine: Record<string, string | number>;
  gate: Gate;
  marginal: Marginal;
  load: LoadComparison;
};

const r2 = (n: number) => Math.round(n * 100) / 100;

// The ratios each target is judged on.
export function targetsOf(run: Run) {
  const g = run.gate;
  return {
    smokeRatio: r2(g.smoke.coldPlain.median / g.floor.plain.median),
    smokeWarmRatio: r2(g.smoke.warmPlain.median / g.floor.plain.median),
    fullRatio: r2(g.fullNoPerf.median / g.floor.plain.median),
    slopeRatio: Object.fromEntries(
      Object.entries(run.marginal).map(([k, m]) => [k, m.slopeTestinfraMs > 0 ? r2(m.slopeOursMs / m.slopeTestinfraMs) : undefined]),
    ) as Record<string, number | undefined>,
    loadRatio: r2(run.load.ours.rps.median / run.load.wrk.rps.median),
  };
}

const cell = (s: Stats, unit = "ms") => `${s.min} / **${s.median}** / ${s.max} ${unit}`;
const verdict = (ok: boolean) => (ok ? "met" : "**not met**");

// The run as Markdown: figures as min / median / max, ratios against their targets.
export function renderTable(run: Run): string {
  const g = run.gate;
  const t = targetsOf(run);
  const rows: string[][] = [
    ["vitest's floor (one empty test, bare config)", cell(g.floor.plain), "", ""],
    ["vitest's floor through `npx`", cell(g.floor.npx), "", ""],
    ["smoke gate, cold (no transform cache)", cell(g.smoke.coldPlain), `${t.smokeRatio}x floor`, `<= 1.5x: ${verdict(t.smokeRatio <= 1.5)}`],
    ["smoke gate, warm", cell(g.smoke.warmPlain), `${t.smokeWarmRatio}x floor`, ""],
    [
      "`npx vitest run specs/smoke`, cold / warm",
      `${g.smoke.coldNpx.median} / ${g.smoke.warmNpx.median} ms (medians)`,
      `${r2(g.smoke.coldNpx.median / g.floor.npx.median)}x / ${r2(g.smoke.warmNpx.median / g.floor.npx.median)}x npx floor`,
      "",
    ],
    ["smoke checks' own work (probes + judgement, in-process)", cell(g.checksOwn.smoke), "", `<= 150 ms: ${verdict(g.checksOwn.smoke.median <= 150)}`],
    ["full diagnosis without performance", cell(g.fullNoPerf), `${t.fullRatio}x floor`, `<= 2x: ${verdict(t.fullRatio <= 2)}`],
    ["full diagnosis' checks' own work", cell(g.checksOwn.fullNoPerf), "", ""],
  ];
  for (const [k, m] of Object.entries(run.marginal)) {
    const ratio = t.slopeRatio[k];
    rows.push([
      `one more ${k} check: validator / Testinfra (slope 20 -> 200)`,
      `${r2(m.slopeOursMs)} / ${r2(m.slopeTestinfraMs)} ms`,
      `${ratio ?? "?"}x`,
      `<= 0.2x: ${verdict(ratio !== undefined && ratio <= 0.2)}`,
    ]);
  }
  const l = run.load;
  rows.push([
    `load on ${l.path}, ${l.connections} connections, ${l.seconds} s: requests/s ours / wrk`,
    `${Math.round(l.ours.rps.median)} / ${Math.round(l.wrk.rps.median)}`,
    `${t.loadRatio}x`,
    `>= 0.9x: ${verdict(t.loadRatio >= 0.9)}`,
  ]);
  rows.push(["  p50 / p99 ours, wrk", `${l.ours.p50.median} / ${l.ours.p99.median} ms, ${r2(l.wrk.p50.median)} / ${r2(l.wrk.p99.median)} ms`, "", ""]);
  const whole = g.parts.nothing?.median ?? 0;
  const parts = Object.entries(g.parts)
    .filter(([k]) => k !== "nothing")
    .map(([k, s]) => `${k} ${whole - s.median >= 0 ? "" : "-"}${Math.abs(whole - s.median)} ms`);
  const phases = Object.entries(g.phases)
    .map(([k, v]) => `${k} ${v} ms`)
    .join(", ");
  const m = run.machine;
  return [
    `\nMeasured ${run.at} at ${run.commit.slice(0, 10)} on ${m.cores} cores (${m.cpu}), Node ${m.node}, vitest ${m.vitest}, Testinfra ${m.testinfra}, wrk ${m.wrk}; load average ${m.load}. ${run.rounds} rounds: min / **median** / max.\n`,
    "| figure | measured | ratio | target |",
    "|---|---|---|---|",
    ...rows.map((r) => `| ${r.join(" | ")} |`),
    "",
    `Where the smoke gate's time goes: vitest's own phases in one run: ${phases}. Taking one part of our config away saves (median of the whole minus median without it, alternating runs; a negative figure is noise larger than the part): ${parts.join("; ")}.`,
    `Slowest imports of the gate (self / total): ${g.imports.slice(0, 8).join("; ")}.`,
    `goss: ${m.goss}.`,
    "",
  ].join("\n");
}
