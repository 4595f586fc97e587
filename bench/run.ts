// `npm run bench [-- --rounds N]`: boots a healthy reference host, puts Testinfra and wrk into it, and measures
// inside it, in one run: the smoke gate and the full diagnosis against vitest's own floor, the marginal cost of a
// check against Testinfra's, and PERF-001's load generator against wrk. Prints a table, appends the run to
// bench/history.jsonl and redraws bench/history.svg. As root; builds the image first if needed.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildImage } from "../fixtures/host/image.ts";
import { up } from "../fixtures/host/index.ts";
import { execInside, teardown } from "../fixtures/host/machine.ts";
import { REPO_ROOT } from "../fixtures/host/paths.ts";
import { gitCommit } from "../src/report/environment.ts";
import { measureGate } from "./gate.ts";
import { compareLoad } from "./load.ts";
import { KINDS, measureMarginal } from "./marginal.ts";
import { plotHistory } from "./plot.ts";
import { renderTable, type Run, targetsOf } from "./table.ts";
import { installBenchTools } from "./tools.ts";

const HISTORY = path.join(REPO_ROOT, "bench/history.jsonl");
const PLOT = path.join(REPO_ROOT, "bench/history.svg");
const arg = process.argv.indexOf("--rounds");
const rounds = arg > 0 ? Number(process.argv[arg + 1]) : 5;
if (!Number.isInteger(rounds) || rounds < 1) {
  process.stderr.write(`bench: --rounds wants a whole number of at least 1, received ${JSON.stringify(process.argv[arg + 1])}\n`);
  process.exit(64);
}
if (process.getuid?.() !== 0) {
  process.stderr.write("bench: must run as root (it boots a reference host with systemd-nspawn)\n");
  process.exit(77);
}
const log = (s: string) => process.stderr.write(`${s}\n`);

// Redraws bench/history.svg from every run in bench/history.jsonl.
function redraw() {
  const history = readFileSync(HISTORY, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Run);
  const t = history.map(targetsOf);
  const labels = history.map((r) => `${r.at.slice(5, 10)} ${r.commit.slice(0, 7)}`);
  writeFileSync(
    PLOT,
    plotHistory("django-deploy-validator benchmark history (ratios, one run each)", labels, [
      { name: "smoke gate cold / vitest floor", target: 1.5, values: t.map((x) => x.smokeRatio) },
      { name: "full without perf / floor", target: 2, values: t.map((x) => x.fullRatio) },
      ...KINDS.map((k) => ({ name: `${k}: our slope / Testinfra's`, target: 0.2, values: t.map((x) => x.slopeRatio[k]) })),
      { name: "load rps: ours / wrk", target: 0.9, values: t.map((x) => x.loadRatio) },
    ]),
  );
}

// `npm run bench -- --plot`: only redraw the plot (after merging history from another checkout).
if (process.argv.includes("--plot")) {
  redraw();
  process.exit(0);
}
const version = (file: string) => (JSON.parse(readFileSync(path.join(REPO_ROOT, file), "utf8")) as { version: string }).version;

await buildImage(log);
const state = await up({ name: `bench-${process.pid}` });
try {
  log(`host ${state.name} up; fetching Testinfra and wrk`);
  await installBenchTools(state, log);
  const tool = async (argv: string[]) =>
    String((await execInside(state, argv)).stdout)
      .trim()
      .split("\n")[0] ?? "";
  const machine = {
    cores: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? "unknown",
    node: process.version,
    vitest: version("node_modules/vitest/package.json"),
    testinfra: await tool(["python3", "-c", "import importlib.metadata as m; print(m.version('pytest-testinfra'))"]),
    wrk: (await tool(["sh", "-c", "wrk --version 2>&1"])).split(" ")[1] ?? "unknown",
    goss: "not measured: no goss package in Debian 12 or on npm, and this machine has no other internet",
    load: os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" "),
  };
  log(`measuring the gate (${rounds} rounds each)`);
  const gate = await measureGate(state, rounds, log);
  log("measuring the marginal cost of a check (20 and 200 of each kind)");
  const marginal = await measureMarginal(state, [20, 200], rounds, log);
  log("measuring PERF-001's load generator against wrk");
  const load = await compareLoad(state, "/health/", 8, 5, rounds);
  const run: Run = { at: new Date().toISOString(), commit: gitCommit(), rounds, machine, gate, marginal, load };
  process.stdout.write(renderTable(run));
  appendFileSync(HISTORY, `${JSON.stringify(run)}\n`);
  redraw();
  log(`\nappended to ${path.relative(process.cwd(), HISTORY)}; plot: ${path.relative(process.cwd(), PLOT)}${existsSync(PLOT) ? "" : " (not written)"}`);
} finally {
  await teardown(state.name);
}
