import { TransportError, type CommandResult } from "../transport/types.ts";
import type { ProbeContext } from "./context.ts";
import { serviceEnv } from "./environment.ts";
import { serviceFacts, type DeployIssue, type SettingsFacts } from "./service-facts.ts";
import { serviceUnit } from "./systemd.ts";

// Django's settings as Django itself loads them (one Python start as the service), or why Django could not start.
export async function djangoSettings(ctx: ProbeContext): Promise<{ ok: true; settings: SettingsFacts; source: string } | { ok: false; why: string }> {
  const f = await serviceFacts(ctx);
  if (!f.ran) return { ok: false, why: `Django could not start: ${ctx.clip(f.error, 300)}` };
  if (!f.django.ok) return { ok: false, why: `Django could not start: ${ctx.clip(f.django.error, 300)}` };
  if ("error" in f.django.settings) return { ok: false, why: `Django started but its settings could not be read: ${ctx.clip(f.django.settings.error, 300)}` };
  return { ok: true, settings: f.django.settings, source: `Django settings ${f.django.settings.module} (${f.as})` };
}

// `check --deploy` as Django ran it in that Python start: the issues it judged (silenced ones dropped). Throws when it could not run.
export async function deployIssues(ctx: ProbeContext): Promise<{ issues: DeployIssue[]; outcome: string }> {
  const f = await serviceFacts(ctx);
  if (!f.ran) throw new Error(`check --deploy could not run: ${f.error}`);
  if (!f.django.ok) throw new Error(`check --deploy could not run: Django could not start: ${ctx.clip(f.django.error, 300)}`);
  const c = f.django.check;
  if (!c) throw new Error("check --deploy was not asked for");
  if (!c.ran) throw new Error(`check --deploy could not run: ${ctx.clip(c.error, 300)}`);
  // Django runs checks in registry (set) order: sort so reports compare run to run.
  const issues = c.issues.map((i) => ({ ...i, msg: ctx.clip(i.msg, 160) })).sort((a, b) => (a.id ?? "").localeCompare(b.id ?? ""));
  return { issues, outcome: c.outcome };
}

// Migrations not yet applied, from `showmigrations --plan` output ("[ ]  app.0002_x").
export function pendingMigrations(output: string): string[] {
  return output.split("\n").filter((l) => l.startsWith("[ ]")).map((l) => l.slice(3).trim());
}

// Legacy (superseded by serviceFacts): runs `manage.py ARGS` as the unit's User/Group with the service's own environment, from its WorkingDirectory.
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

// Migrations not yet applied, from `showmigrations --plan --skip-checks` run in the one Python start (--skip-checks: a
// system-check error elsewhere, SEC-010's business, must not hide the migration state).
export async function unappliedMigrations(ctx: ProbeContext): Promise<{ ok: true; pending: string[] } | { ok: false; output: string }> {
  const f = await serviceFacts(ctx);
  if (!f.ran) return { ok: false, output: f.error };
  if (!f.django.ok) return { ok: false, output: `Django could not start: ${ctx.clip(f.django.error, 300)}` };
  const m = f.django.migrations;
  if (!m) return { ok: false, output: "showmigrations was not asked for" };
  if (!m.ok) return { ok: false, output: ctx.clip(m.error, 300) };
  return { ok: true, pending: pendingMigrations(m.output) };
}

// Legacy: `manage.py check --deploy` in its own Python start, superseded by deployIssues(); kept only for
// test/unit/probes.test.ts, delete both together.
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
