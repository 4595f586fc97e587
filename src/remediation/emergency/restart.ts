import { parseEndpoint } from "../../probes/endpoint.ts";
import type { Config } from "../../config/schema.ts";
import { argvOptions, bindPort } from "../../probes/gunicorn.ts";
import { siteUpstreams } from "../../probes/nginx-sites.ts";
import { serviceUnit, socketUnit, unitName, type Unit } from "../../probes/systemd.ts";
import { must } from "../backup.ts";
import { inspectPaths, pinned, RefusedError } from "../pinned.ts";
import { EXIT, RemediateError } from "../errors.ts";
import { cgroupOfUnit, cgroupPids } from "./cgroup.ts";
import { type Outcome, runPlaybook, type Session } from "./frame.ts";
import { ensurePostgresql } from "./postgres.ts";
import { describeHolder, portHolders, socketHolders, stopStale } from "./port-holders.ts";
import { describeProc, procInfo, projectGunicorns } from "./procs.ts";
import { killLeftovers, showProp, startUnit } from "./unit-steps.ts";
import { playbookVerifies, waitStep } from "./wait.ts";
import type { EmergencyOptions } from "../emergency.ts";

// The TCP ports the service needs: the configured Gunicorn URL's and every --bind of the unit's ExecStart (Gunicorn's
// default 8000 when neither names one and nothing binds a unix socket).
export function servicePorts(config: Config, unit: Pick<Unit, "execStart">): number[] {
  const binds = argvOptions(unit.execStart?.argv.slice(1) ?? []).bind ?? [];
  const configured = config.gunicornUrl ? parseEndpoint(config.gunicornUrl, "config").port : undefined;
  const ports = [...(configured ? [configured] : []), ...binds.map(bindPort).filter((p): p is number => p !== undefined)];
  if (!ports.length && !binds.length && !config.gunicornUrl) ports.push(8000);
  return [...new Set(ports)];
}

// The pid files the unit or its Gunicorn write: PIDFile= and Gunicorn's --pid/-p.
export function pidFiles(unit: Pick<Unit, "execStart">, pidFileProp: string): string[] {
  const argv = unit.execStart?.argv ?? [];
  const fromArgv = argv
    .flatMap((a, i) => (a === "--pid" || a === "-p" ? [argv[i + 1] ?? ""] : a.startsWith("--pid=") ? [a.slice(6)] : []))
    .filter((p) => p.startsWith("/"));
  return [...new Set([pidFileProp, ...fromArgv].filter(Boolean))];
}

const STEPS = [
  "stop the unit",
  "kill what is left in the unit's own cgroup (nothing outside it)",
  "remove a stale pid file",
  "free the service's ports (only a hand-started Gunicorn of this project is stopped; anything else is named, never killed)",
  "make sure PostgreSQL and its cluster units are up",
  "systemctl daemon-reload",
  "start the unit",
  "wait until the service's smoke checks pass",
];

// emergency-restart: stop, clean up what only this unit left behind, bring PostgreSQL up, start, and prove it.
export async function emergencyRestart(o: EmergencyOptions): Promise<number> {
  const { config, say } = o;
  const id = unitName(config.service);
  const verifies = playbookVerifies(config);
  return runPlaybook(o, { command: "emergency-restart", ids: verifies, unfinished: "not green" }, async (ctx) => {
    const unit = await serviceUnit(ctx);
    if (unit.loadState !== "loaded")
      throw new RemediateError(`${id} is ${unit.loadState || "unknown"}: there is nothing to restart (emergency-reset installs the unit)`, EXIT.partial);
    say(`emergency-restart of ${id} (${unit.activeState}/${unit.subState}, ${unit.nRestarts} restarts)`);
    if (o.dryRun) {
      for (const [i, s] of STEPS.entries()) say(`  ${i + 1}. ${s}`);
      say("dry run: nothing was changed");
      return EXIT.ok;
    }
    return (session) => restart(o, session, unit, verifies);
  });
}

// The restart's steps, under the lock.
async function restart(o: EmergencyOptions, s: Session, unit: Unit, verifies: string[]): Promise<Outcome> {
  const { config, say } = o;
  const { ctx, t, log } = s;
  const id = unitName(config.service);
  const backup = await s.backup();
  const applyEnv = await s.applyEnv();
  const cgroup = unit.controlGroup || cgroupOfUnit(await showProp(t, id, "Slice"), id);
  const pidFileProp = await showProp(t, id, "PIDFile");
  // The service's ports, and the port nginx sends the site's visitors to (a stray holding it is named too).
  const upstream = ((await siteUpstreams(ctx)) ?? []).flatMap((t) => ("port" in t ? [t.port] : []));
  const ports = [...new Set([...servicePorts(config, unit), ...upstream])];
  // Socket activation: the socket unit holds the listener; it is (re)started before the service.
  const sock = await socketUnit(ctx);
  const mine = new Set(await cgroupPids(t, cgroup));

  await log.run(`stop ${id}`, async () => {
    await must(t, ["systemctl", "stop", "--", id]);
    return `${id} is ${await showProp(t, id, "ActiveState")}`;
  });
  await log.run(`kill what is left in ${cgroup}`, () => killLeftovers(t, id, cgroup));
  await log.run("remove a stale pid file", async () => {
    const files = pidFiles(unit, pidFileProp);
    const found = [];
    // The pid file's directory is often the service's own (RuntimeDirectory=): looked at without following links,
    // and a link there is removed itself (never its target, never read).
    const seen = await inspectPaths(t, files);
    for (const f of files) {
      const i = seen.get(f);
      if (!i || i.kind === "missing") continue;
      if (i.kind === "refused") throw new RefusedError(i.why);
      if (i.kind === "link") {
        await pinned(t, { op: "remove", path: f, expect: { dev: i.dev, ino: i.ino } });
        found.push(`${f} (a symbolic link${i.target ? ` to ${i.target}` : ""}, removed itself; its target untouched)`);
        continue;
      }
      const pid = Number((await t.readFile(f).catch(() => "")).trim());
      const p = pid > 0 ? await procInfo(t, pid) : undefined;
      const e = await backup.save(f, "emergency-restart");
      await pinned(t, { op: "remove", path: f, expect: { dev: e.dev as number, ino: e.ino as number } });
      found.push(`${f} (it named ${pid > 0 ? `pid ${pid}, ${p ? `now ${describeProc(p)}` : "which is gone"}` : "no pid"})`);
    }
    if (!found.length) return { result: "skipped", detail: files.length ? `none left: ${files.join(", ")}` : "the unit names no pid file" };
    return `removed ${found.join("; ")}`;
  });
  await log.run(ports.length ? `free port ${ports.join(", ")}` : "free TCP ports", async () => {
    if (!ports.length) return { result: "skipped", detail: "Gunicorn binds no TCP port (unix sockets only)" };
    const holders = await portHolders(config, t, ports);
    if (!holders.length) return `nothing else listens on port ${ports.join(", ")}`;
    const said: string[] = [];
    let refused = false;
    for (const h of holders) {
      if (h.kind === "foreign") {
        refused = true;
        said.push(`${describeHolder(h)}; not killed: stop it yourself if it should not run`);
      } else said.push(`${describeHolder(h)}; ${await stopStale(t, h, 10_000)}`);
    }
    return { result: refused ? "refused" : "ok", detail: said.join(" | ") };
  });
  // Unix sockets Gunicorn binds itself (under socket activation systemd holds the socket): a Gunicorn started by
  // hand may still serve an older socket at that path, named (and stopped when it is this project's) like a port holder.
  const paths = sock ? [] : (argvOptions(unit.execStart?.argv.slice(1) ?? []).bind ?? []).flatMap((b) => (b.startsWith("unix:") ? [b.slice(5)] : []));
  if (paths.length)
    await log.run(`free unix socket ${paths.join(", ")}`, async () => {
      const holders = await socketHolders(config, t, paths);
      if (!holders.length) return `nothing else listens on ${paths.join(", ")}`;
      const said: string[] = [];
      for (const h of holders) said.push(h.kind === "foreign" ? `${describeHolder(h)}; not killed` : `${describeHolder(h)}; ${await stopStale(t, h, 10_000)}`);
      return { result: holders.some((h) => h.kind === "foreign") ? "refused" : "ok", detail: said.join(" | ") };
    });
  await log.run("PostgreSQL is up", () => ensurePostgresql(ctx, config, t, applyEnv));
  await log.run("systemctl daemon-reload", async () => void (await must(t, ["systemctl", "daemon-reload"])));
  if (sock) await log.run(`start ${sock.id} (it starts ${id} on a connection)`, () => startUnit(t, config, sock.id));
  await log.run(`start ${id}`, () => startUnit(t, config, id));
  const others = (await projectGunicorns(t, config)).filter((p) => !mine.has(p.pid) && p.unit !== id);
  const waited = await waitStep(log, config, o.transport, verifies);
  const survivors = [];
  for (const p of others) if (await procInfo(t, p.pid)) survivors.push(p);
  // By pid: a master before its workers, the same order every run.
  survivors.sort((a, b) => a.pid - b.pid);
  if (survivors.length) say(`  left alone (not in ${id}'s cgroup, not holding its ports): ${survivors.map(describeProc).join(", ")}`);
  const green = waited.result === "ok" && !log.troubled;
  s.reason =
    log.steps
      .filter((r) => r.result === "failed" || r.result === "refused")
      .map((r) => `${r.name}: ${r.detail}`)
      .join(" | ") || undefined;
  return {
    green,
    result: green ? "green" : "not green",
    message: green ? `🚑 emergency restart: ${id} is green (${verifies.join(", ")} pass)` : `emergency restart: ${id} is NOT green: ${s.reason ?? "see above"}`,
  };
}
