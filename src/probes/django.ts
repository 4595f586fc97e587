import { TransportError, type CommandResult } from "../transport/types.ts";
import type { ProbeContext } from "./context.ts";
import { serviceEnv } from "./environment.ts";
import { serviceUnit } from "./systemd.ts";

// Runs `manage.py ARGS` as the unit's User/Group with the service's own environment, from its WorkingDirectory.
export function manage(ctx: ProbeContext, args: string[]): Promise<CommandResult> {
  return ctx.once(`django:${args.join(" ")}`, async () => {
    const unit = await serviceUnit(ctx);
    const { env } = await serviceEnv(ctx);
    const cwd = unit.workingDirectory || `${ctx.config.projectDir}/backend`;
    const user = unit.user || "root";
    const group = unit.group || user;
    const python = `${ctx.config.venvDir}/bin/python`;
    const cleanEnv = { ...env, DJANGO_SETTINGS_MODULE: env.DJANGO_SETTINGS_MODULE ?? ctx.config.settingsModule, PYTHONDONTWRITEBYTECODE: "1" };
    // setpriv changes identity without touching the environment (runuser/su would rewrite it).
    const argv = ["setpriv", `--reuid=${user}`, `--regid=${group}`, "--init-groups", "--", python, "manage.py", ...args];
    const r = await ctx.transport.run(argv, { cwd, env: cleanEnv, timeoutMs: ctx.config.timeouts.commandMs * 2 });
    if (r.exitCode === 127 || r.exitCode === 126) throw new TransportError(`cannot run ${python} manage.py as ${user}: ${ctx.clip(r.stderr.trim(), 200, "end")}`);
    return r;
  });
}

// Migrations not yet applied, from `showmigrations --plan` ("[ ]  app.0002_x").
export async function unappliedMigrations(ctx: ProbeContext): Promise<{ ok: true; pending: string[] } | { ok: false; output: string }> {
  // --skip-checks: a system-check error elsewhere (SEC-010's business) must not hide the migration state.
  const r = await manage(ctx, ["showmigrations", "--plan", "--skip-checks"]);
  if (r.exitCode !== 0) return { ok: false, output: ctx.clip((r.stderr || r.stdout).trim().split("\n").slice(-3).join(" | "), 400, "end") };
  return { ok: true, pending: r.stdout.split("\n").filter((l) => l.startsWith("[ ]")).map((l) => l.slice(3).trim()) };
}

// Issues from `check --deploy`: [{id, level, text}] and the command's exit code.
export async function deployCheck(ctx: ProbeContext): Promise<{ exitCode: number; issues: Array<{ id: string; level: string; text: string }>; output: string }> {
  const r = await manage(ctx, ["check", "--deploy", "--fail-level", "CRITICAL"]);
  const out = `${r.stdout}\n${r.stderr}`;
  const issues = [...out.matchAll(/\(([\w.]+\.([EWCI])\d{3})\) (.*)$/gm)].map((m) => ({
    id: m[1] as string,
    level: { E: "ERROR", W: "WARNING", C: "CRITICAL", I: "INFO" }[m[2] as string] as string,
    text: ctx.clip(m[3] as string, 160),
  }));
  return { exitCode: r.exitCode, issues, output: ctx.clip(out.trim().split("\n").slice(-3).join(" | "), 400, "end") };
}
