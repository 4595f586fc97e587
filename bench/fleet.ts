// `npm run bench:fleet [-- --rounds N]`: the smoke gate over ssh on 1, 4 and 8 healthy reference hosts (all on
// this machine, reached through ProxyCommand into each host's namespace, as in the fleet test), its network round
// trips per host, and the same gate run locally inside one host for comparison. Prints a table and appends the run
// to bench/fleet-history.jsonl. As root; builds the image first if needed.
import { appendFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { inventoryLine, prepareFleet } from "../fixtures/fleet.ts";
import { buildImage } from "../fixtures/host/image.ts";
import { up } from "../fixtures/host/index.ts";
import { readState, teardown } from "../fixtures/host/machine.ts";
import { REPO_ROOT } from "../fixtures/host/paths.ts";
import { gitCommit } from "../src/report/environment.ts";
import { type Stats, stats, wallInside } from "./timing.ts";

const SIZES = [1, 4, 8];
const HISTORY = path.join(REPO_ROOT, "bench/fleet-history.jsonl");
const WORK = path.join(REPO_ROOT, "reports/bench-fleet");
const arg = process.argv.indexOf("--rounds");
const rounds = arg > 0 ? Number(process.argv[arg + 1]) : 3;
if (!Number.isInteger(rounds) || rounds < 1) {
  process.stderr.write(`bench:fleet: --rounds wants a whole number of at least 1, received ${JSON.stringify(process.argv[arg + 1])}\n`);
  process.exit(64);
}
if (process.getuid?.() !== 0) {
  process.stderr.write("bench:fleet: must run as root (it boots reference hosts with systemd-nspawn)\n");
  process.exit(77);
}
const log = (s: string) => process.stderr.write(`${s}\n`);

// Busy and total jiffies of the whole machine (/proc/stat): the hosts and the controller share its cores here.
function cpuTicks(): { busy: number; total: number } {
  const f = (readFileSync("/proc/stat", "utf8").split("\n")[0] as string).trim().split(/\s+/).slice(1, 9).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f as [number, number, number, number, number, number, number, number];
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

// One fleet smoke run from this machine: wall ms, round trips per host, the machine's CPU use; anything but a
// green run stops the bench.
async function fleetGate(inventory: string, hosts: number): Promise<{ ms: number; trips: number[]; busy: number; controllerCpuMs: number }> {
  const stat = path.join(WORK, "trips.json");
  rmSync(stat, { force: true });
  const cpu0 = cpuTicks();
  const started = performance.now();
  // GNU time around the run: the controller's own CPU (vitest, its ssh clients and their ProxyCommands), apart from
  // what the hosts spend answering.
  const r = await execa("/usr/bin/time", ["-f", "ddv-cpu %U %S", "npx", "vitest", "run", "specs/smoke"], {
    cwd: REPO_ROOT,
    reject: false,
    stdin: "ignore",
    timeout: 600_000,
    env: { DEPLOY_INVENTORY: inventory, DDV_REPORTS_DIR: "reports/bench-fleet/run", DDV_TRANSPORT_STATS: stat, NO_COLOR: "1" },
  });
  const ms = performance.now() - started;
  const cpu1 = cpuTicks();
  const busy = (cpu1.busy - cpu0.busy) / (cpu1.total - cpu0.total);
  const out = `${r.stdout}\n${r.stderr}`;
  const [user, sys] = (out.match(/ddv-cpu ([\d.]+) ([\d.]+)/)?.slice(1) ?? ["0", "0"]).map(Number) as [number, number];
  const controllerCpuMs = Math.round((user + sys) * 1000);
  const passed = Number(out.match(/Tests\s+(\d+) passed/)?.[1] ?? 0);
  if (r.exitCode !== 0 || passed === 0 || passed % hosts !== 0)
    throw new Error(`the fleet gate on ${hosts} host(s) was not green (exit ${r.exitCode}):\n${out.trim().split("\n").slice(-20).join("\n")}`);
  return {
    ms,
    busy,
    controllerCpuMs,
    trips: Object.values(JSON.parse(readFileSync(stat, "utf8")) as Record<string, { roundTrips: number; requests: number }>).map((t) => t.roundTrips),
  };
}

const names = Array.from({ length: Math.max(...SIZES) }, (_, i) => `bench-fleet-${i + 1}`);
await buildImage(log);
rmSync(WORK, { recursive: true, force: true });
mkdirSync(WORK, { recursive: true });
try {
  log(`booting ${names.length} healthy hosts`);
  // Two at a time: booting is CPU-bound on a small machine.
  for (let i = 0; i < names.length; i += 2) await Promise.all(names.slice(i, i + 2).map((name) => up({ name })));
  const fleet = await prepareFleet(names, path.join(WORK, "ssh"));
  const local = stats(
    await wallInside((await readState(names[0] as string))!, ["npx", "vitest", "run", "specs/smoke"], rounds, { DDV_REPORTS_DIR: "reports/bench-fleet/local" }),
  );
  log(`  local gate inside one host: ${local.median} ms`);
  const over: Record<number, Stats> = {};
  const trips: Record<number, number[]> = {};
  const busy: Record<number, number> = {};
  const controllerCpu: Record<number, number[]> = {};
  for (const n of SIZES) {
    const inventory = path.join(WORK, `inventory-${n}.ini`);
    writeFileSync(inventory, ["[web]", ...names.slice(0, n).map((h) => inventoryLine(fleet, h)), ""].join("\n"));
    await fleetGate(inventory, n); // warm-up: vitest's transform cache, the hosts' page cache
    const runs: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const r = await fleetGate(inventory, n);
      runs.push(r.ms);
      trips[n] = r.trips;
      busy[n] = Math.max(busy[n] ?? 0, Math.round(r.busy * 100));
      (controllerCpu[n] ??= []).push(r.controllerCpuMs);
    }
    over[n] = stats(runs);
    log(
      `  ssh gate on ${n} host(s): ${over[n].median} ms; round trips per host ${trips[n]?.join(", ")}; machine CPU busy up to ${busy[n]}%; controller CPU ${stats(controllerCpu[n] ?? []).median} ms`,
    );
  }
  const one = over[1] as Stats;
  const run = {
    at: new Date().toISOString(),
    commit: gitCommit(),
    rounds,
    machine: { cores: os.cpus().length, node: process.version },
    local,
    over,
    trips,
    busy,
    controllerCpu: Object.fromEntries(SIZES.map((n) => [n, stats(controllerCpu[n] ?? [])])),
    ratio8to1: Number(((over[8] as Stats).median / one.median).toFixed(2)),
  };
  appendFileSync(HISTORY, `${JSON.stringify(run)}\n`);
  const row = (label: string, s: Stats, extra = "") => `| ${label} | ${s.min} | ${s.median} | ${s.max} | ${extra} |`;
  const table = [
    `| smoke gate (${os.cpus().length} cores shared by the controller and every host) | min ms | median ms | max ms | notes |`,
    "|---|---|---|---|---|",
    row("local, inside one host", local),
    ...SIZES.map((n) =>
      row(
        `over ssh, ${n} host${n > 1 ? "s" : ""}`,
        over[n] as Stats,
        `${(((over[n] as Stats).median / one.median) * 1).toFixed(2)}x one host; round trips per host: ${Math.min(...(trips[n] ?? [0]))}-${Math.max(...(trips[n] ?? [0]))}; machine CPU busy up to ${busy[n]}%; controller CPU ${stats(controllerCpu[n] ?? []).median} ms`,
      ),
    ),
  ].join("\n");
  process.stdout.write(`${table}\n\ntarget: 8 hosts <= 1.5x one host: ${run.ratio8to1}x (${run.ratio8to1 <= 1.5 ? "met" : "not met"})\n`);
} finally {
  await Promise.all(names.map((n) => teardown(n).catch(() => {})));
}
