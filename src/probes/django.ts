import type { ProbeContext } from "./context.ts";
import { serviceFacts, type DeployIssue, type SettingsFacts } from "./service-facts.ts";

// Django's settings as Django itself loads them (one Python start as the service), or why Django could not start.
export async function djangoSettings(ctx: ProbeContext): Promise<{ ok: true; settings: SettingsFacts; source: string } | { ok: false; why: string }> {
  const f = await serviceFacts(ctx);
  if (!f.ran) return { ok: false, why: `Django could not start: ${ctx.clip(f.error, 300)}` };
  if (!f.django.ok) return { ok: false, why: `Django could not start: ${ctx.clip(f.django.error, 300)}` };
  if ("error" in f.django.settings) return { ok: false, why: `Django started but its settings could not be read: ${ctx.clip(f.django.settings.error, 300)}` };
  return { ok: true, settings: f.django.settings, source: `Django settings ${f.django.settings.module} (${f.as})` };
}

// Which of `names` the settings module reads from the environment (recorded while Django loaded it), with where
// that was learned; all of them when Django could not load (then nothing tells they are not needed).
export async function neededFromEnvironment(ctx: ProbeContext, names: string[]): Promise<{ needed: string[]; basis: string }> {
  const f = await serviceFacts(ctx);
  if (!f.ran || !f.django.ok || !f.django.envReads) return { needed: names, basis: "Django's settings could not be loaded to tell which it reads" };
  const reads = new Set(f.django.envReads);
  return {
    needed: names.filter((n) => reads.has(n)),
    basis:
      "read from the environment by " +
      `${f.django.ok && "settings" in f.django && !("error" in f.django.settings) ? f.django.settings.module : "the settings module"}`,
  };
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
  return output
    .split("\n")
    .filter((l) => l.startsWith("[ ]"))
    .map((l) => l.slice(3).trim());
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
