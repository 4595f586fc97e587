import { neededFromEnvironment } from "../probes/django.ts";
import { access, accessBasis, serviceAccount } from "../probes/files.ts";
import { listenersOn, processAgeSeconds, unitPids } from "../probes/process.ts";
import { gunicornSettings, serverName } from "../probes/gunicorn.ts";
import { unixListeners } from "../probes/unix-sockets.ts";
import { currentJournal, serviceUnit, showUnits, socketUnit, unitName, verifyUnit, type Unit } from "../probes/systemd.ts";
import { gunicornEndpoint } from "../probes/endpoint.ts";
import { siteUpstreams } from "../probes/nginx-sites.ts";
import type { ProbeContext } from "../probes/context.ts";
import { crashCause } from "../probes/crash-cause.ts";
import { databaseHere } from "../probes/database-here.ts";
import { connectAs, nginxWorker, userName } from "../probes/nginx-worker.ts";
import { operatorEnvFile, shadowedKeys, unitEnvSources } from "../probes/environment.ts";
import { defineCheck, fail, failFor, nothingToJudge, pass, withoutNginx } from "./define.ts";

const CONFIG_ROOTS = ["SVC-004", "SVC-005", "SVC-006", "SVC-007"];
// Every check that reads the unit's definition needs the unit to be there; see SVC-016.
const UNIT = "SVC-016";
// The variables the app cannot run safely without (it falls back to an insecure key and a default database).
// A constant for now: config/schema.ts is not this file's; a `requiredEnv` config field is proposed for it.
export const REQUIRED_ENV = ["SECRET_KEY", "DATABASE_URL"];
// Statuses above 128 mean "killed by signal N-128" (a shell's exit after SIGTERM): listing one is not masking a crash.
const APP_STATUS_MAX = 127;

async function dependencyActive(ctx: ProbeContext, name: string) {
  const units = await showUnits(ctx);
  const u = units.get(name);
  if (u?.loadState !== "loaded") return fail(`${unitName(name)} is not installed (LoadState=${u?.loadState || "none"})`);
  const self = `${name}: ${u.activeState} (${u.subState})`;
  if (u.activeState !== "active") return fail(`${name}: ActiveState=${u.activeState} SubState=${u.subState} Result=${u.result}`);
  // An umbrella unit (Debian's postgresql.service runs /bin/true) stays active while its parts are down: judge them.
  const parts = u.consistsOf.map((p) => ({ p, pu: units.get(p) }));
  const down = parts.filter(({ pu }) => pu?.loadState !== "loaded" || pu.activeState !== "active");
  const desc = (p: string, pu: Unit | undefined) =>
    pu ? `${p}: ActiveState=${pu.activeState} SubState=${pu.subState} Result=${pu.result}` : `${p}: not described by systemctl`;
  if (down.length) return fail(`${self}, but ${down.map(({ p, pu }) => desc(p, pu)).join("; ")}`);
  return pass(parts.length ? `${self}; ${parts.map(({ p, pu }) => `${p}: ${pu?.activeState} (${pu?.subState})`).join(", ")}` : self);
}

// Who listens at one address (a TCP host:port or a unix socket path), each described; throws when a holder cannot
// be read (no permission to /proc/<pid>/fd).
async function holdersOf(ctx: ProbeContext, t: { host: string; port: number } | { unix: string }): Promise<Array<{ pid: number; desc: string }>> {
  if ("unix" in t) {
    const us = await unixListeners(ctx, [t.unix]);
    const unknown = us.find((l) => l.pid === undefined);
    if (unknown) throw new Error(`cannot tell which process holds unix:${unknown.path}`);
    return us.map((l) => ({ pid: l.pid as number, desc: `unix:${l.path} pid ${l.pid} (${l.comm ?? "?"})` }));
  }
  const ls = await listenersOn(ctx, t.port);
  const unknown = ls.find((l) => l.pid === undefined);
  if (unknown)
    throw new Error(
      `cannot tell which process holds ${unknown.address}:${t.port}: ` +
        `${ls.unreadable ? `${ls.unreadable} processes' /proc/<pid>/fd could not be read` : "no process in this PID namespace holds it"}`,
    );
  return ls.map((l) => ({ pid: l.pid as number, desc: `${l.address}:${l.port} pid ${l.pid} (${l.comm ?? "?"})` }));
}

// Whether the service is crash-looping now. systemd's NRestarts counts automatic restarts since the last manual
// start, so a service that looped and then recovered on its own still shows them: it is steady again once its
// current run has lasted `steadySeconds` (a crash loop's runs end sooner). retryInMs: when a young run turns steady.
export async function crashLoopNow(ctx: ProbeContext, u: Unit, steadySeconds: number): Promise<{ steady: boolean; note?: string; retryInMs?: number }> {
  if (u.subState === "auto-restart") return { steady: false, note: "waiting to be restarted after its main process ended" };
  const max = ctx.config.thresholds.maxRestarts;
  if (u.nRestarts <= max) return { steady: true };
  if (u.activeState !== "active" || u.subState !== "running") return { steady: false, note: `${u.nRestarts} automatic restarts, and it is not running` };
  let age = await processAgeSeconds(ctx, u.mainPid);
  if (age === undefined) return { steady: false, note: `${u.nRestarts} automatic restarts, and its main process (${u.mainPid}) is gone` };
  // A young run is watched (bounded) until it has lasted steadySeconds or ends: a loop's runs end sooner.
  const first = age;
  const deadline = performance.now() + (Math.min(ctx.config.thresholds.crashWatchSeconds, steadySeconds - age) + 1) * 1000;
  while (age < steadySeconds && performance.now() < deadline && ctx.config.thresholds.crashWatchSeconds > 0) {
    const pause = Math.min(1000, Math.max(50, (steadySeconds - age) * 1000));
    await new Promise((r) => setTimeout(r, pause));
    const now = await processAgeSeconds(ctx, u.mainPid);
    if (now === undefined)
      return {
        steady: false,
        note: `${u.nRestarts} automatic restarts, and its main process (${u.mainPid}) ended while watched, after ${Math.floor(age)} s or more of running`,
      };
    age = now;
  }
  const ran = `current run ${Math.floor(age)} s old${age > first + 0.5 ? `, watched for ${Math.round(age - first)} s` : ""}`;
  if (age >= steadySeconds)
    return { steady: true, note: `${u.nRestarts} automatic restarts since the last manual start, none in the last ${steadySeconds} s (${ran}): recovered` };
  return {
    steady: false,
    note: `${u.nRestarts} automatic restarts and the ${ran}, under the ${steadySeconds} s a recovered run lasts`,
    retryInMs: Math.ceil((steadySeconds - age) * 1000),
  };
}

export const serviceChecks = [
  defineCheck(
    {
      id: "SVC-001",
      title: "The Django service is active and running",
      suite: "service",
      severity: "critical",
      smoke: true,
      expects: "the unit is loaded, ActiveState=active and SubState=running",
      recommendation: "Read `journalctl -u <service> -b` for the cause, fix it, then `systemctl restart <service>`",
      fixId: "restart-service",
      dependsOn: ["SVC-003", ...CONFIG_ROOTS],
    },
    {
      async run(ctx) {
        const u = await serviceUnit(ctx);
        if (u.loadState !== "loaded") return fail(`${unitName(ctx.config.service)} is not installed (LoadState=${u.loadState})`);
        const s = `ActiveState=${u.activeState} SubState=${u.subState} Result=${u.result} ExecMainStatus=${u.execMainStatus} MainPID=${u.mainPid}`;
        const woken = (await showUnits(ctx)).woken;
        if (u.activeState === "active" && u.subState === "running") return pass(woken ? `${s}; ${woken}` : s);
        const sock = await socketUnit(ctx);
        if (sock && sock.activeState !== "active")
          return fail(`${s}; ${sock.id} is ${sock.activeState} (${sock.subState}): nothing starts the service on a connection`);
        if (woken) return fail(`${s}; ${woken}`);
        if (u.execMainStatus === 0) return fail(s);
        // It died: the gate's reader needs the why, not only the state (the journal and Gunicorn's error log).
        const masked = u.successExitStatus.statuses.includes(u.execMainStatus)
          ? ` (exit ${u.execMainStatus} counted as success: SuccessExitStatus=${u.successExitStatus.statuses.join(" ")})`
          : "";
        const why = await crashCause(ctx).then(
          (c) => (c ? `; last failed start: ${ctx.clip(c.text, 300)}` : ""),
          () => "",
        );
        return fail(`${s}${masked}${why}`);
      },
    },
  ),
  defineCheck(
    {
      id: "SVC-002",
      title: "The Django service starts at boot",
      suite: "service",
      severity: "high",
      expects: "UnitFileState=enabled, or the service is socket-activated and the .socket unit that starts it is enabled",
      recommendation: "systemctl enable <service> (socket activation: systemctl enable <service>.socket)",
      fixId: "enable-service",
      dependsOn: [UNIT],
    },
    {
      async run(ctx) {
        const u = await serviceUnit(ctx);
        if (u.unitFileState === "enabled") return pass("enabled");
        const sock = await socketUnit(ctx);
        if (sock?.unitFileState === "enabled") return pass(`UnitFileState=${u.unitFileState}; started at boot through ${sock.id} (enabled)`);
        return fail(`UnitFileState=${u.unitFileState || "unknown"}${sock ? `, and ${sock.id} that starts it is ${sock.unitFileState || "unknown"}` : ""}`);
      },
    },
  ),
  defineCheck(
    {
      id: "SVC-003",
      title: "The Django service is not crash-looping",
      suite: "service",
      severity: "critical",
      smoke: true,
      expects:
        "not waiting to be restarted (SubState is not auto-restart); after more than thresholds.maxRestarts automatic restarts, " +
        "the current run has lasted thresholds.steadySeconds, a younger run being watched until it has or ends " +
        "(a crash loop now, not a count since the last manual start; " +
        "a failure names the cause found in the journal of the last failed starts and the end of Gunicorn's error log)",
      recommendation:
        "The app dies after start: fix the cause named above " +
        "(or read `journalctl -u <service> -n 50` and /var/log/<service>/error.log), then systemctl restart <service>",
      dependsOn: CONFIG_ROOTS,
    },
    {
      async run(ctx) {
        const u = await serviceUnit(ctx);
        const masked =
          u.execMainStatus !== 0 && u.successExitStatus.statuses.includes(u.execMainStatus)
            ? ` (exit ${u.execMainStatus} counted as success: SuccessExitStatus=${u.successExitStatus.statuses.join(" ")})`
            : "";
        const s = `NRestarts=${u.nRestarts} SubState=${u.subState} Result=${u.result} ExecMainStatus=${u.execMainStatus}${masked}`;
        const steady = ctx.config.thresholds.steadySeconds;
        const looping = await crashLoopNow(ctx, u, steady);
        if (looping.steady) return pass(looping.note ? `${s}; ${looping.note}` : s);
        // The failure says why: the journal of the last failed starts and Gunicorn's error log. Not reading them
        // does not unmake the crash loop, so that is said, not thrown.
        const why = await crashCause(ctx).then(
          (c) => (c ? `last failed start: ${ctx.clip(c.text, 300)}` : "the journal and Gunicorn's error log of the last starts name no cause"),
          (err: unknown) => `cause not read: ${err instanceof Error ? err.message : String(err)}`,
        );
        const text = `${s}${looping.note ? `; ${looping.note}` : ""}; ${why}`;
        return looping.retryInMs === undefined ? fail(text) : failFor(text, looping.retryInMs);
      },
    },
  ),
  defineCheck(
    {
      id: "SVC-004",
      title: "The unit's WorkingDirectory exists and its user can enter it",
      suite: "service",
      severity: "critical",
      smoke: true,
      expects:
        "WorkingDirectory= is set, is a directory, and the unit's User/Group may enter (x) and read (r) it: " +
        "tested as the running service inside its mount namespace, modelled from mode bits when it is down",
      recommendation: "Create the directory or fix its owner/mode: chown <user>:<group> DIR && chmod 755 DIR",
      fixId: "fix-permissions",
      dependsOn: [UNIT],
    },
    {
      async run(ctx) {
        const u = await serviceUnit(ctx);
        if (!u.workingDirectory) return fail("WorkingDirectory= is not set: the app would start in /");
        const who = await serviceAccount(ctx);
        const [x, r] = await Promise.all([access(ctx, u.workingDirectory, who, "x"), access(ctx, u.workingDirectory, who, "r")]);
        if (!x.ok) return fail(x.reason);
        if (!r.ok) return fail(r.reason);
        return x.stat.isDirectory
          ? pass(`${u.workingDirectory} usable by ${who.name} (${await accessBasis(ctx)})`)
          : fail(`${u.workingDirectory} is not a directory`);
      },
    },
  ),
  defineCheck(
    {
      id: "SVC-005",
      title: "Every EnvironmentFile the unit requires exists",
      suite: "service",
      severity: "critical",
      smoke: true,
      expects: "each EnvironmentFile= the unit names without the optional '-' prefix is a regular file (a unit naming none passes)",
      recommendation: "Restore the env file (from your secrets store or backup) at the path the unit names, mode 640",
      fixId: "restore-env-file",
      dependsOn: [UNIT],
    },
    {
      async run(ctx) {
        const u = await serviceUnit(ctx);
        // No file named, none required: whether the settings get what they read is SVC-018's question.
        if (!u.environmentFiles.length) return pass("the unit names no EnvironmentFile= (settings come from the code or the unit's Environment=)");
        const missing: string[] = [];
        for (const f of u.environmentFiles) {
          const st = await ctx.transport.stat(f.path);
          if (!f.optional && !st?.isFile) missing.push(f.path);
        }
        return missing.length
          ? fail(`missing: ${missing.join(", ")}`)
          : pass(u.environmentFiles.map((f) => f.path + (f.optional ? " (optional)" : "")).join(", "));
      },
    },
  ),
  defineCheck(
    {
      id: "SVC-006",
      title: "The ExecStart binary exists and the unit's user can execute it",
      suite: "service",
      severity: "critical",
      smoke: true,
      expects:
        "the unit has an ExecStart= and the unit's User/Group may execute its program path (x on it, search on every parent directory): " +
        "tested as the running service inside its mount namespace, modelled from mode bits when it is down",
      recommendation: "Recreate the venv and reinstall gunicorn into it, or fix ExecStart to the real binary",
      dependsOn: [UNIT],
    },
    {
      async run(ctx) {
        const u = await serviceUnit(ctx);
        if (!u.execStart) return fail("the unit has no ExecStart=");
        const who = await serviceAccount(ctx);
        const x = await access(ctx, u.execStart.path, who, "x");
        return x.ok ? pass(`${u.execStart.path} executable by ${who.name} (${await accessBasis(ctx)})`) : fail(x.reason);
      },
    },
  ),
  defineCheck(
    {
      id: "SVC-007",
      title: "Every PYTHONPATH entry of the unit exists",
      suite: "service",
      severity: "high",
      expects: "every entry of PYTHONPATH in the unit's Environment= (when it sets one) is an existing directory",
      recommendation: "Set Environment=PYTHONPATH=<backend dir> in the unit (or a drop-in) to the directory holding the Django project, then daemon-reload",
      dependsOn: [UNIT],
    },
    {
      async run(ctx) {
        const u = await serviceUnit(ctx);
        const pp = u.environment.PYTHONPATH;
        if (!pp) return pass("PYTHONPATH not set; Python uses WorkingDirectory");
        const bad: string[] = [];
        for (const dir of pp.split(":").filter(Boolean)) if (!(await ctx.transport.stat(dir))?.isDirectory) bad.push(dir);
        return bad.length ? fail(`PYTHONPATH=${pp}: ${bad.join(", ")} does not exist`) : pass(`PYTHONPATH=${pp}`);
      },
    },
  ),
  defineCheck(
    {
      id: "SVC-008",
      reads: ["gunicorn-config"],
      fixId: "unit-dropin",
      title: "Gunicorn worker and graceful timeouts are set",
      suite: "service",
      severity: "medium",
      expects:
        "Gunicorn's effective config (as its own config loader resolves command line, GUNICORN_CMD_ARGS and config file) " +
        "sets timeout and graceful_timeout explicitly, whatever the value; left at gunicorn's built-in 30 s defaults they fail",
      recommendation:
        "Add `--timeout 120 --graceful-timeout 30` (or values fit for your slowest view) " +
        "to ExecStart, or set timeout/graceful_timeout in the gunicorn config file",
      dependsOn: [UNIT],
    },
    {
      async run(ctx) {
        const g = await gunicornSettings(ctx);
        if (g.server === "uvicorn") return nothingToJudge(`Uvicorn runs the app (${g.source}): it has no worker timeout to set`);
        const how = (name: string) => (g.explicit.includes(name) ? "set" : "gunicorn's default");
        const s = `timeout=${g.timeout} (${how("timeout")}), graceful_timeout=${g.gracefulTimeout} (${how("graceful_timeout")}); read by ${g.source}`;
        return g.explicit.includes("timeout") && g.explicit.includes("graceful_timeout") ? pass(s) : fail(s);
      },
    },
  ),
  defineCheck(
    {
      id: "SVC-009",
      fixId: "unit-dropin",
      title: "The unit restarts the service when it fails",
      suite: "service",
      severity: "high",
      expects: "Restart= is on-failure, on-abnormal or always, or the service is socket-activated (its next connection starts it again)",
      recommendation: "Set Restart=on-failure and RestartSec=5 in the [Service] section, then daemon-reload",
      dependsOn: [UNIT],
    },
    {
      async run(ctx) {
        const u = await serviceUnit(ctx);
        if (["on-failure", "always", "on-abnormal"].includes(u.restart)) return pass(`Restart=${u.restart}`);
        const sock = await socketUnit(ctx);
        return sock ? pass(`Restart=${u.restart}; socket-activated by ${sock.id}: the next connection starts it again`) : fail(`Restart=${u.restart}`);
      },
    },
  ),
  defineCheck(
    {
      id: "SVC-010",
      title: "systemd-analyze verify finds nothing wrong with the unit",
      suite: "service",
      severity: "medium",
      expects: "`systemd-analyze verify <service>.service` exits 0 and prints nothing on stderr",
      recommendation: "Fix each directive systemd-analyze names (typos, unknown keys, missing binaries), then daemon-reload",
      // verify also reports a missing ExecStart binary; SVC-006 names that root cause precisely.
      dependsOn: [UNIT, "SVC-006"],
    },
    {
      async run(ctx) {
        const v = await verifyUnit(ctx);
        return v.exitCode === 0 && v.findings.length === 0 ? pass("clean") : fail(`exit ${v.exitCode}: ${v.findings.slice(0, 3).join(" | ")}`);
      },
    },
  ),
  defineCheck(
    {
      id: "SVC-011",
      title: "No Python traceback in the service's journal since its current start",
      suite: "service",
      severity: "high",
      expects: "no 'Traceback (most recent call last)' in the current invocation's journal",
      recommendation: "Read the traceback with `journalctl -u <service> -b` and fix the code or configuration it points at",
      dependsOn: ["SVC-001"],
    },
    {
      async run(ctx) {
        const lines = await currentJournal(ctx);
        const i = lines.findIndex((l) => l.includes("Traceback (most recent call last)"));
        // A traceback in the part not read is not "no traceback": a capped journal is an error unless one shows anyway.
        if (i === -1 && lines.capped)
          throw new Error(`the current start's journal was not read whole (${lines.capped}); no traceback in the ${lines.length} lines read`);
        if (i === -1) return pass(`${lines.length} journal lines, no traceback`);
        const last = lines.slice(i).find((l) => /^\w+(\.\w+)*(Error|Exception)\b/.test(l.trim())) ?? lines[i + 1] ?? "";
        return fail(`traceback in the journal: ${ctx.clip(last.trim(), 200)}`);
      },
    },
  ),
  defineCheck(
    {
      id: "SVC-012",
      title: "PostgreSQL is active",
      suite: "service",
      severity: "critical",
      smoke: true,
      expects:
        "the PostgreSQL unit is loaded and ActiveState=active, and so is every unit it consists of (ConsistsOf=: " +
        "on Debian the cluster unit postgresql@15-main, while postgresql.service itself only runs /bin/true); " +
        "skipped when the app's database server (Django's DATABASES) is another machine",
      recommendation:
        "systemctl start postgresql@<version>-<cluster> (or postgresql) and enable it; if it will not start, read journalctl -u postgresql@* and pg_lsclusters",
      fixId: "start-postgresql",
    },
    {
      async run(ctx) {
        const h = await databaseHere(ctx);
        if (!h.here) return nothingToJudge(`${h.where}: no PostgreSQL of the app's runs here to judge`);
        return dependencyActive(ctx, ctx.config.dependencies.postgresql);
      },
    },
  ),
  defineCheck(
    {
      id: "SVC-013",
      title: "nginx is active",
      suite: "service",
      severity: "critical",
      smoke: true,
      expects: "the nginx unit is loaded and ActiveState=active",
      recommendation: "nginx -t, then systemctl start nginx",
      fixId: "start-nginx",
    },
    {
      skipIf: withoutNginx,
      run: (ctx) => dependencyActive(ctx, ctx.config.dependencies.nginx as string),
    },
  ),
  defineCheck(
    {
      id: "SVC-014",
      title: "The nginx configuration passes nginx -t",
      suite: "service",
      severity: "high",
      expects: "`nginx -t` exits 0",
      recommendation: "Fix the file and line `nginx -t` names, then `systemctl reload nginx`; a broken config stops the next reload or reboot",
    },
    {
      skipIf: withoutNginx,
      async run(ctx) {
        const r = await ctx.transport.run(["nginx", "-t"]);
        const msg = r.stderr
          .trim()
          .split("\n")
          .filter((l) => /emerg|error|failed/.test(l))
          .slice(0, 2)
          .join(" | ");
        return r.exitCode === 0 ? pass("syntax is ok") : fail(msg || `exit ${r.exitCode}`);
      },
    },
  ),
  defineCheck(
    {
      id: "SVC-015",
      reads: ["gunicorn-config"],
      title: "The process listening on the Gunicorn address belongs to the unit",
      suite: "service",
      severity: "critical",
      smoke: true,
      expects:
        "something listens where Gunicorn answers (gunicornUrl; unset: the ListenStream of the .socket unit that starts the service, else Gunicorn's " +
        "first bind as its config loader reads it, else 127.0.0.1:8000), TCP port or unix socket, and every listener there, and at any other address " +
        "on this machine where nginx proxies the site (nginx -T), is held by one of the unit's processes (or by systemd, under socket activation)",
      recommendation: "Stop the stray process holding the port (see the PID), then systemctl restart <service>",
      dependsOn: ["SVC-001"],
    },
    {
      async run(ctx) {
        const [ep, u, sock] = await Promise.all([gunicornEndpoint(ctx), serviceUnit(ctx), socketUnit(ctx)]);
        const pids = new Set((await unitPids(ctx)).concat(u.mainPid));
        // Under socket activation systemd (PID 1) holds the listener it hands to Gunicorn.
        if (sock) pids.add(1);
        const where = `${ep.label}, from ${ep.source}`;
        const show = (who: string[]) => `${who.join(", ")}; the unit's PIDs are ${[...pids].join(",")}`;
        const own = await holdersOf(ctx, ep.socketPath ? { unix: ep.socketPath } : { host: new URL(ep.base).hostname, port: ep.port as number });
        if (!own.length) {
          const g = ep.socketPath ? undefined : await gunicornSettings(ctx).catch(() => undefined);
          return fail(`nothing listens on ${where}${g ? ` (${serverName(g)} binds ${g.bind.join(", ")}, read by ${g.source})` : ""}`);
        }
        if (own.some((l) => !pids.has(l.pid))) return fail(show(own.map((l) => l.desc)));
        // nginx's upstream for the site, when it is another address on this machine: a stranger holding it gets
        // every visitor (nothing listening there is nginx's 502, HTTP-007's finding).
        const strangers: string[] = [];
        for (const t of (await siteUpstreams(ctx)) ?? []) {
          if ("unix" in t ? t.unix === ep.socketPath : t.port === ep.port) continue;
          const held = await holdersOf(ctx, t);
          for (const l of held.filter((x) => !pids.has(x.pid))) strangers.push(`nginx proxies the site to ${l.desc}, not to ${u.id}`);
        }
        if (strangers.length) return fail(`${strangers.join("; ")} (Gunicorn answers on ${where}; the unit's PIDs are ${[...pids].join(",")})`);
        return pass(`${own.map((l) => l.desc).join(", ")} (${ep.source})`);
      },
    },
  ),
  defineCheck(
    {
      id: "SVC-016",
      title: "The Django service's unit is installed and loaded",
      suite: "service",
      severity: "critical",
      smoke: true,
      expects: "systemd knows the unit (LoadState=loaded)",
      recommendation: "Check the service name in deploy.config.json; reinstall the unit file under /etc/systemd/system and run systemctl daemon-reload",
    },
    {
      async run(ctx) {
        const u = await serviceUnit(ctx);
        const s = `${ctx.config.service}: LoadState=${u.loadState} ActiveState=${u.activeState} FragmentPath=${u.fragmentPath || "(none)"}`;
        return u.loadState === "loaded" ? pass(s) : fail(s);
      },
    },
  ),
  defineCheck(
    {
      id: "SVC-017",
      fixId: "unit-dropin",
      title: "SuccessExitStatus= does not count the app's crashes as clean exits",
      suite: "service",
      severity: "high",
      expects: `when Restart= is not no, SuccessExitStatus= lists no exit status from 1 to ${APP_STATUS_MAX} (signal names and 128+N statuses are allowed)`,
      recommendation:
        "Remove SuccessExitStatus= from the unit (or list only what the app really exits with when stopped), then daemon-reload: " +
        "with it, systemd reports a crash as 'Deactivated successfully', OnFailure= never runs and `systemctl --failed` stays empty",
      dependsOn: [UNIT],
    },
    {
      async run(ctx) {
        const u = await serviceUnit(ctx);
        const { statuses, signals } = u.successExitStatus;
        const listed = [...statuses, ...signals].join(" ") || "(empty)";
        const app = statuses.filter((n) => n >= 1 && n <= APP_STATUS_MAX);
        if (u.restart === "no" || !app.length) return pass(`SuccessExitStatus=${listed}, Restart=${u.restart}`);
        return fail(
          `SuccessExitStatus=${listed} with Restart=${u.restart}: exit status ${app.join(", ")} counted as success, ` +
            "so a crash is restarted as a clean exit (Result=success, no failed state)",
        );
      },
    },
  ),
  defineCheck(
    {
      id: "SVC-018",
      title: "Every variable the app needs comes from a file that exists",
      suite: "service",
      severity: "critical",
      smoke: true,
      expects:
        `each of ${REQUIRED_ENV.join(", ")} that Django's settings module reads from the environment (recorded as Django loads it; all of them when it ` +
        `cannot load) is set by the unit's Environment= or by one of its EnvironmentFile= files that exists (a missing optional "-" file sets nothing)`,
      recommendation:
        "Put the missing variables in the env file the unit names (restore a deleted optional file, " +
        "or make the main one required by dropping its '-'), then restart the service: without them the app starts on its insecure fallbacks",
      dependsOn: [UNIT, "SVC-005"],
    },
    {
      async run(ctx) {
        const sources = await unitEnvSources(ctx);
        const gone = sources.filter((s) => !s.exists).map((s) => `${s.name} (missing${s.optional ? ", optional" : ""})`);
        const from = (k: string) =>
          sources
            .filter((s) => s.exists && k in s.env)
            .map((s) => s.name)
            .pop();
        // Needed only when the settings module reads it from the environment (settings in code need neither).
        const { needed, basis } = await neededFromEnvironment(ctx, REQUIRED_ENV);
        if (!needed.length)
          return pass(`the settings read none of ${REQUIRED_ENV.join(", ")} from the environment (set in code)${gone.length ? `; ${gone.join(", ")}` : ""}`);
        const unset = needed.filter((k) => !from(k));
        const seen = needed.filter((k) => from(k)).map((k) => `${k} from ${from(k)}`);
        const note = `${gone.length ? `; ${gone.join(", ")}` : ""}${needed.length < REQUIRED_ENV.length ? ` (${needed.join(", ")} ${basis})` : ""}`;
        return unset.length
          ? fail(`no source sets ${unset.join(", ")}${seen.length ? ` (${seen.join(", ")})` : ""}${note}`)
          : pass(`${seen.join(", ")}${note}`);
      },
    },
  ),
  defineCheck(
    {
      id: "SVC-019",
      fixId: "merge-env-files",
      title: "No env file shadows the one the operator edits",
      suite: "service",
      severity: "high",
      expects:
        "no variable set in the operator's env file (the first EnvironmentFile= not marked optional, else the first one the unit names) " +
        "is overridden by a later EnvironmentFile=; each variable set in more than one source is reported with the source that wins (names only)",
      recommendation:
        "Keep one env file: delete the later copy (or merge it into the operator's file) " +
        "and drop its EnvironmentFile= line, then daemon-reload and restart; edits to the shadowed file have no effect today",
      dependsOn: [UNIT],
    },
    {
      async run(ctx) {
        const sources = await unitEnvSources(ctx);
        const mine = operatorEnvFile(sources);
        if (!mine) return pass("the unit names no EnvironmentFile=");
        const shared = shadowedKeys(sources);
        const lost = shared.filter((s) => s.setBy.includes(mine.name) && s.winner !== mine.name);
        const byWinner = (list: typeof shared) => {
          const m = new Map<string, string[]>();
          for (const s of list) m.set(s.winner, [...(m.get(s.winner) ?? []), s.key]);
          return [...m].map(([w, ks]) => `${w} wins ${ks.slice(0, 8).join(", ")}${ks.length > 8 ? ` and ${ks.length - 8} more` : ""}`).join("; ");
        };
        if (lost.length)
          return fail(`operator's file ${mine.name}${mine.exists ? "" : " (missing)"}: ${lost.length} of its variables are overridden: ${byWinner(lost)}`);
        return pass(
          "operator's file " +
            `${mine.name}${shared.length ? `; set in more than one source: ${byWinner(shared)}` : "; no variable is set in more than one source"}`,
        );
      },
    },
  ),
  defineCheck(
    {
      id: "SVC-020",
      title: "nginx's workers can connect to Gunicorn's unix socket",
      suite: "service",
      severity: "critical",
      smoke: true,
      expects:
        "for each unix socket nginx proxies the site to (nginx -T), connect(2) tried as nginx's worker process " +
        "(its uid, gid and groups from /proc) succeeds: the socket's owner, group and mode (SocketUser=, SocketGroup=, " +
        "SocketMode= under socket activation) and every directory on the way let nginx in",
      recommendation:
        "Under socket activation set SocketGroup= to nginx's group (Debian: www-data) and SocketMode=0660 in the .socket unit " +
        "(systemctl edit <name>.socket), then systemctl restart <name>.socket; when Gunicorn creates the socket itself, " +
        "give the unit a Group= nginx's user belongs to and Gunicorn --umask 007, then restart; every directory on the path " +
        "must be searchable by nginx's user",
      dependsOn: ["SVC-013", "SVC-015"],
    },
    {
      skipIf: withoutNginx,
      async run(ctx) {
        const targets = (await siteUpstreams(ctx)) ?? [];
        const sockets = [...new Set(targets.flatMap((t) => ("unix" in t ? [t.unix] : [])))];
        if (!sockets.length) {
          const tcp = targets.map((t) => ("port" in t ? `${t.host}:${t.port}` : "")).filter(Boolean);
          return pass(`nginx proxies the site over TCP (${tcp.join(", ") || "no local upstream found"}): no socket file between them`);
        }
        const w = await nginxWorker(ctx);
        if (!w) throw new Error(`${ctx.config.dependencies.nginx} runs no worker process under a non-root user: cannot try as nginx would`);
        const who = `nginx's worker ${w.name} (pid ${w.pid}, uid ${w.uid}, gid ${w.gid}, groups ${w.groups.join(",") || "none"})`;
        const sock = await socketUnit(ctx);
        const bad: string[] = [];
        for (const path of sockets) {
          const answer = await connectAs(ctx, w, path);
          if (answer === "ok") continue;
          const st = await ctx.transport.stat(path);
          const octal = (m: number) => (m & 0o7777).toString(8).padStart(4, "0");
          const file = st ? `${path} is owned by ${await userName(ctx, st.uid)} (gid ${st.gid}), mode ${octal(st.mode)}` : "";
          const unit = sock?.listen.some((l) => l.address === path)
            ? `; ${sock.id} sets SocketUser=${sock.socketUser || "root"} SocketGroup=${sock.socketGroup || "root"} ` +
              `SocketMode=${octal(sock.socketMode ?? 0o666)}`
            : "";
          const why =
            answer === "EACCES" ? "permission denied" : answer === "ENOENT" ? "no such socket" : answer === "ECONNREFUSED" ? "nothing listens there" : answer;
          bad.push(`connect to ${path} as ${who}: ${answer} (${why})${file ? `; ${file}` : ""}${unit}`);
        }
        return bad.length ? fail(`${bad.join("; ")}: nginx answers 502 to every visitor`) : pass(`${who} connects to ${sockets.join(", ")}`);
      },
    },
  ),
];
