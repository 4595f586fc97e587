import type { ProbeContext } from "../probes/context.ts";
import { dbConnection, dbQuery } from "../probes/postgres.ts";
import { serviceFacts } from "../probes/service-facts.ts";
import type { Items } from "./items.ts";

type Ran = Extract<Awaited<ReturnType<typeof serviceFacts>>, { ran: true }>;

// The one Python start's answer (memoised: the checks' own), or why there is none.
async function facts(ctx: ProbeContext): Promise<Ran> {
  const f = await serviceFacts(ctx);
  if (!f.ran) throw new Error(f.error);
  return f;
}

// Django's effective settings that a deploy changes: DEBUG, ALLOWED_HOSTS, the database, apps and middleware.
export async function gatherDjango(ctx: ProbeContext, b: Items): Promise<void> {
  const f = await facts(ctx);
  if (!f.django.ok) throw new Error(`Django could not start: ${f.django.error}`);
  const s = f.django.settings;
  if ("error" in s) throw new Error(`Django's settings could not be read: ${s.error}`);
  b.add("django settings module", s.module, s.module);
  b.add("django DEBUG", String(s.DEBUG), String(s.DEBUG));
  b.add("django ALLOWED_HOSTS", JSON.stringify(s.ALLOWED_HOSTS), undefined, s.ALLOWED_HOSTS);
  const d = s.DATABASE;
  b.add("django database", JSON.stringify([d.ENGINE, d.HOST, d.PORT, d.NAME, d.USER]), `${d.ENGINE} ${d.USER}@${d.HOST || "(socket)"}:${d.PORT}/${d.NAME}`);
  if (s.INSTALLED_APPS) b.add("django INSTALLED_APPS", JSON.stringify(s.INSTALLED_APPS), undefined, s.INSTALLED_APPS);
  if (s.MIDDLEWARE) b.add("django MIDDLEWARE", JSON.stringify(s.MIDDLEWARE), undefined, s.MIDDLEWARE);
}

// The migrations on disk (from the Python start) against django_migrations (over the app's own connection).
export async function gatherMigrations(ctx: ProbeContext, b: Items): Promise<void> {
  const f = await facts(ctx);
  const s = f.django.ok ? f.django.settings : undefined;
  const disk = s && !("error" in s) ? s.migrationFiles : undefined;
  if (!disk || "error" in disk) throw new Error(`the migration files could not be listed: ${disk?.error ?? "Django's settings did not load"}`);
  const db = await dbConnection(ctx);
  if (!db.ok) throw new Error(`django_migrations could not be read: ${db.reason}`);
  const rows = await dbQuery<{ app: string; name: string }>(ctx, db.client, "SELECT app, name FROM django_migrations");
  const applied = new Set(rows.map((r) => `${r.app}.${r.name}`));
  const all = new Set([...applied, ...Object.entries(disk).flatMap(([app, names]) => names.map((n) => `${app}.${n}`))]);
  for (const m of [...all].sort()) {
    const state = applied.has(m) ? "applied" : "not applied";
    b.add(`migration ${m}`, state, state);
  }
}

// Versions of what the app runs on: from the Python start, nginx -v and the server the app connects to.
export async function gatherVersions(ctx: ProbeContext, b: Items): Promise<void> {
  const f = await facts(ctx).catch(() => undefined);
  const v = (name: string, value: string | null | undefined) => value && b.add(`version ${name}`, value, value);
  v("Python", f?.python);
  v("Django", f?.django.ok ? f.django.version : undefined);
  const g = f?.gunicorn;
  v("Gunicorn", g?.ok ? g.version : g?.notAsked ? g.version : undefined);
  for (const [pkg, version] of Object.entries(f?.packages ?? {})) if (pkg !== "error") v(pkg, version);
  const [nginx, pg] = await Promise.all([
    ctx.config.dependencies.nginx
      ? ctx.transport.run(["nginx", "-v"]).then(
          (r) => (r.stderr || r.stdout).trim().replace(/^nginx version: /, ""),
          () => undefined,
        )
      : undefined,
    dbConnection(ctx)
      .then((db) => (db.ok ? dbQuery<{ v: string }>(ctx, db.client, "SELECT current_setting('server_version') AS v") : []))
      .catch(() => []),
  ]);
  v("nginx", nginx);
  v("PostgreSQL", pg[0]?.v);
}
