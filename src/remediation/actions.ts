import type { Transport } from "../transport/types.ts";
import { BackupFolder, must } from "./backup.ts";
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
  psql: { socketDir: string; port: number };
  timeoutMs: number;
  // How the app's next start runs a command: argv wrapped in setpriv, its WorkingDirectory and environment, now.
  asService(argv: string[]): Promise<{ argv: string[]; cwd: string; env: Record<string, string> }>;
  // Polls the checks `ids` until they pass or `seconds` run out; resolves the names of those still red.
  waitGreen(ids: string[], seconds: number): Promise<string[]>;
};

async function unitState(t: Transport, unit: string): Promise<{ active: string; enabled: string }> {
  const r = await t.run(["systemctl", "show", "-p", "ActiveState", "-p", "UnitFileState", "--", unit]);
  const get = (k: string) => r.stdout.match(new RegExp(`^${k}=(.*)$`, "m"))?.[1] ?? "";
  return { active: get("ActiveState"), enabled: get("UnitFileState") };
}

// Runs a command that must exit 0; a failure names the step and quotes the command's last words.
async function check(t: Transport, argv: string[], show: string, opts: { cwd?: string; env?: Record<string, string>; timeoutMs: number }) {
  const r = await t.run(argv, { cwd: opts.cwd, env: opts.env, timeoutMs: opts.timeoutMs });
  if (r.exitCode !== 0) {
    const tail = (r.stderr || r.stdout).trim().split("\n").filter(Boolean).slice(-3).join(" | ");
    throw new Error(`${show} exited ${r.exitCode}: ${tail || "no output"}`);
  }
}

// Applies one action after backing up what it changes; returns how to undo it (undefined: nothing to undo).
export async function applyAction(a: Action, env: ApplyEnv): Promise<Undo | undefined> {
  const { t, backup } = env;
  switch (a.kind) {
    case "write": {
      const e = await backup.save(a.path, env.fix);
      if (!e.existed) await must(t, ["install", "-m", a.mode.toString(8), "-o", a.owner, "-g", a.group, "/dev/null", a.path]);
      await must(t, ["dd", `of=${a.path}`, "status=none"], a.content); // same inode: edited in place
      if (e.existed) {
        await must(t, ["chown", `${a.owner}:${a.group}`, "--", a.path]);
        await must(t, ["chmod", a.mode.toString(8), "--", a.path]);
      }
      return { what: `restore ${a.path}`, run: () => backup.restore(e) };
    }
    case "chmod":
    case "chown": {
      const e = await backup.save(a.path, env.fix, { content: false });
      if (a.kind === "chmod") await must(t, ["chmod", a.mode.toString(8), "--", a.path]);
      else await must(t, ["chown", `${a.owner}:${a.group}`, "--", a.path]);
      return { what: `restore owner and mode of ${a.path}`, run: () => backup.restore(e) };
    }
    case "mkdir": {
      const e = await backup.save(a.path, env.fix, { content: false });
      await must(t, ["install", "-d", "-m", a.mode.toString(8), "-o", a.owner, "-g", a.group, a.path]);
      return { what: e.existed ? `restore owner and mode of ${a.path}` : `remove ${a.path} if still empty`, run: () => backup.restore(e) };
    }
    case "sql": {
      const argv = psqlArgv(a.database, env.psql);
      const r = await t.run(argv, { input: a.sql, cwd: "/", timeoutMs: env.timeoutMs });
      if (r.exitCode !== 0) throw new Error(`psql exited ${r.exitCode} on: ${a.show} (${r.stderr.trim().split("\n")[0] ?? ""})`);
      if (!a.undo) return undefined;
      const undo = a.undo;
      await backup.saveSql(env.fix, a.undoShow ?? undo);
      return { what: `SQL ${a.undoShow ?? undo}`, run: async () => void (await must(t, psqlArgv(a.database, env.psql), undo)) };
    }
    case "unit": {
      const before = await unitState(t, a.unit);
      await check(t, ["systemctl", a.verb, "--", a.unit], `systemctl ${a.verb} ${a.unit}`, { timeoutMs: env.timeoutMs * 3 });
      if (a.verb === "start" && before.active !== "active") return { what: `stop ${a.unit} (it was ${before.active})`, run: async () => void (await t.run(["systemctl", "stop", "--", a.unit])) };
      if (a.verb === "enable" && before.enabled !== "enabled")
        return { what: `disable ${a.unit} (it was ${before.enabled})`, run: async () => void (await t.run(["systemctl", "disable", "--", a.unit])) };
      return undefined; // a restart or reload of restored files is done by the rollback itself
    }
    case "daemon-reload":
      await must(t, ["systemctl", "daemon-reload"]);
      return { what: "systemctl daemon-reload", run: async () => void (await must(t, ["systemctl", "daemon-reload"])) };
    case "validate": {
      const how = a.asService ? await env.asService(a.argv) : { argv: a.argv, cwd: a.cwd };
      await check(t, how.argv, a.show, { ...how, timeoutMs: env.timeoutMs * 6 });
      return undefined;
    }
    case "run": {
      const how = a.asService ? await env.asService(a.argv) : { argv: a.argv };
      await check(t, how.argv, a.show, { ...how, timeoutMs: env.timeoutMs * 12 });
      return { what: a.undo, run: async () => {}, irreversible: true };
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
          if (!red.length) return undefined;
          if (Date.now() >= deadline) break;
          const state = await unitState(t, a.unit);
          if (state.active === "failed" || state.active === "inactive") break; // systemd gave up: restart again
        }
      }
      throw new Error(`${a.unit} was restarted but ${red.join(", ")} still fail after ${a.seconds} s`);
    }
  }
}
