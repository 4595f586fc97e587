import { showProperties } from "../probes/systemctl-show.ts";
import type { Transport } from "../transport/types.ts";
import { type BackupFolder, must, undoUnit } from "./backup.ts";
import { pinned, RefusedError } from "./pinned.ts";
import type { Action } from "./fix.ts";

// How to put one applied action back; run in reverse order on rollback.
export type Undo = { what: string; run(): Promise<void>; irreversible?: boolean };

// The psql every SQL action runs: the postgres OS user over the local socket, stopping at the first error.
export function psqlArgv(database: string, where: { socketDir: string; port: number }): string[] {
  return ["runuser", "-u", "postgres", "--", "psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-h", where.socketDir, "-p", String(where.port), "-d", database];
}

// Where SQL actions go (set by the runner from the app's DATABASE_URL).
export type ApplyEnv = {
  t: Transport;
  backup: BackupFolder;
  fix: string;
  // undefined: the app's database is not this machine's cluster, so no SQL runs here.
  psql: { socketDir: string; port: number } | undefined;
  timeoutMs: number;
  // How the app's next start runs a command: argv wrapped in setpriv, its WorkingDirectory and environment, now.
  asService(argv: string[]): Promise<{ argv: string[]; cwd: string; env: Record<string, string> }>;
  // Polls the checks `ids` until they pass or `seconds` run out; resolves the names of those still red.
  waitGreen(ids: string[], seconds: number): Promise<string[]>;
};

async function unitState(t: Transport, unit: string): Promise<{ active: string; enabled: string }> {
  const [shown] = await showProperties(t, [unit], ["ActiveState", "UnitFileState"]);
  return { active: shown?.one("ActiveState") ?? "", enabled: shown?.one("UnitFileState") ?? "" };
}

// Runs a command that must exit 0; a failure names the step and quotes the command's last words.
async function check(t: Transport, argv: string[], show: string, opts: { cwd?: string; env?: Record<string, string>; timeoutMs: number }) {
  const r = await t.run(argv, { cwd: opts.cwd, env: opts.env, timeoutMs: opts.timeoutMs });
  if (r.exitCode !== 0) {
    const tail = (r.stderr || r.stdout).trim().split("\n").filter(Boolean).slice(-3).join(" | ");
    throw new Error(`${show} exited ${r.exitCode}: ${tail || "no output"}`);
  }
}

// The object an action must find at its path: the one its plan looked at (an earlier step of the run may have
// replaced the file the backup recorded, and the step was planned again on what it left), else the backup's.
function sameObject(a: { expect?: { dev: number; ino: number } }, e: { dev?: number; ino?: number }) {
  return { dev: (a.expect?.dev ?? e.dev) as number, ino: (a.expect?.ino ?? e.ino) as number };
}

// Applies one action after backing up what it changes. Its undo is handed to `register` before the action first
// touches the host, so a step that fails part-way is rolled back too. File changes go through the pinned helper:
// no link is followed, and an object replaced or changed since the plan (or the backup) is refused.
export async function applyAction(a: Action, env: ApplyEnv, register: (u: Undo) => void = () => {}): Promise<void> {
  const { t, backup } = env;
  switch (a.kind) {
    case "write": {
      const e = await backup.save(a.path, env.fix, { expect: a.expect });
      register({ what: `restore ${a.path}`, run: () => backup.restore(e) });
      const data = Buffer.from(a.content, a.encoding ?? "utf8").toString("base64");
      if (!e.existed) return backup.create(e, { op: "write", data, mode: a.mode, owner: a.owner, group: a.group });
      await pinned(t, {
        op: "write",
        path: a.path,
        data,
        mode: a.mode,
        owner: a.owner,
        group: a.group,
        expect: sameObject(a, e),
      });
      return;
    }
    case "chmod":
    case "chown": {
      const e = await backup.save(a.path, env.fix, { content: false, expect: a.expect });
      register({ what: `restore owner and mode of ${a.path}`, run: () => backup.restore(e) });
      const change = a.kind === "chmod" ? { mode: a.mode } : { owner: a.owner, group: a.group };
      await pinned(t, { op: "change", path: a.path, ...change, expect: sameObject(a, e) });
      return;
    }
    case "mkdir": {
      // A directory made, or an existing one given this owner and mode.
      const e = await backup.save(a.path, env.fix, { content: false });
      register({ what: e.existed ? `restore owner and mode of ${a.path}` : `remove ${a.path} if still empty`, run: () => backup.restore(e) });
      if (e.existed && e.kind !== "dir") throw new RefusedError(`refused: ${a.path} exists and is not a directory`);
      if (e.existed)
        await pinned(t, { op: "change", path: a.path, owner: a.owner, group: a.group, mode: a.mode, expect: { dev: e.dev as number, ino: e.ino as number } });
      else await backup.create(e, { op: "mkdir", mode: a.mode, owner: a.owner, group: a.group });
      return;
    }
    case "sql": {
      const psql = env.psql;
      if (!psql) throw new RefusedError("refused: the app's database server is not this machine's cluster; SQL runs only on the server the app uses");
      const argv = psqlArgv(a.database, psql);
      // The undo (it sets back old values, so it is harmless if the change did not happen) is recorded first.
      if (a.undo) {
        const undo = a.undo;
        await backup.saveSql(env.fix, undo, a.database);
        register({ what: `SQL ${a.undoShow ?? undo}`, run: async () => void (await must(t, psqlArgv(a.database, psql), undo)) });
      }
      const r = await t.run(argv, { input: a.sql, cwd: "/", timeoutMs: env.timeoutMs });
      if (r.exitCode !== 0) throw new Error(`psql exited ${r.exitCode} on: ${a.show} (${r.stderr.trim().split("\n")[0] ?? ""})`);
      return;
    }
    case "unit": {
      const before = await unitState(t, a.unit);
      const was = a.verb === "start" ? before.active : a.verb === "enable" ? before.enabled : undefined;
      // Recorded before the change: `remediate rollback` after a kill puts the unit back too.
      if ((a.verb === "start" || a.verb === "enable") && was !== undefined) {
        const change = { fix: env.fix, unit: a.unit, verb: a.verb, was };
        await backup.saveUnit(change);
        register({ what: `${a.verb === "start" ? "stop" : "disable"} ${a.unit} (it was ${was})`, run: () => undoUnit(t, change) });
      }
      await check(t, ["systemctl", a.verb, "--", a.unit], `systemctl ${a.verb} ${a.unit}`, { timeoutMs: env.timeoutMs * 3 });
      return; // a restart or reload of restored files is done by the rollback itself
    }
    case "daemon-reload":
      register({ what: "systemctl daemon-reload", run: async () => void (await must(t, ["systemctl", "daemon-reload"])) });
      await must(t, ["systemctl", "daemon-reload"]);
      return;
    case "validate": {
      const how = a.asService ? await env.asService(a.argv) : { argv: a.argv, cwd: a.cwd };
      await check(t, how.argv, a.show, { ...how, timeoutMs: env.timeoutMs * 6 });
      return;
    }
    case "run": {
      const how = a.asService ? await env.asService(a.argv) : { argv: a.argv };
      register({ what: a.undo, run: async () => {}, irreversible: true });
      await check(t, how.argv, a.show, { ...how, timeoutMs: env.timeoutMs * 12 });
      return;
    }
    case "restart-until-green": {
      // Restart, then give the app the whole window to come up: restarting a slow (loaded, --preload) start again
      // only kills it mid-start. Only a unit that systemd itself gave up on (failed) is restarted again.
      const deadline = Date.now() + a.seconds * 1000;
      let red: string[] = [];
      for (let restarts = 1; restarts <= 3 && Date.now() < deadline; restarts++) {
        await t.run(["systemctl", "reset-failed", "--", a.unit]);
        await check(t, ["systemctl", "restart", "--", a.unit], `systemctl restart ${a.unit}`, { timeoutMs: env.timeoutMs * 3 });
        for (;;) {
          red = await env.waitGreen(a.ids, Math.min(5, Math.max(1, (deadline - Date.now()) / 1000)));
          if (!red.length) return;
          if (Date.now() >= deadline) break;
          const state = await unitState(t, a.unit);
          if (state.active === "failed" || state.active === "inactive") break; // systemd gave up: restart again
        }
      }
      throw new Error(`${a.unit} was restarted but ${red.join(", ")} still fail after ${a.seconds} s`);
    }
  }
}
