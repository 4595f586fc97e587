import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { stringifyEnvInfo } from "allure-js-commons/sdk/reporter";
import type { ProbeContext } from "../probes/context.ts";
import { redact } from "../probes/redact.ts";
import { serviceFacts } from "../probes/service-facts.ts";
import { catalogueVersion, hostIdentity } from "../runner/identity.ts";

const REPO = path.join(import.meta.dirname, "../..");

// The first line of a command's output (stdout, else stderr: `nginx -v` prints on stderr), or why there is none.
async function firstLine(ctx: ProbeContext, argv: string[]): Promise<string> {
  try {
    const r = await ctx.transport.run(argv);
    const line = (r.stdout.trim() || r.stderr.trim()).split("\n")[0] ?? "";
    return r.exitCode === 0 && line ? line : `unknown (${argv.join(" ")} exited ${r.exitCode}${line ? `: ${line}` : ""})`;
  } catch (err) {
    return `unknown (${(err as Error).message})`;
  }
}

// The OS as /etc/os-release names it.
export function parseOsRelease(text: string): string | undefined {
  const m = text.match(/^PRETTY_NAME=(.*)$/m);
  return m?.[1]?.trim().replace(/^(["'])(.*)\1$/, "$2");
}

// Debian's `pg_lsclusters --no-header` lines as "15/main online, port 5432" (several clusters joined).
export function parseClusters(text: string): string | undefined {
  const rows = text
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 4 && /^\d/.test(f[0] as string));
  return rows.length ? rows.map((f) => `${f[0]}/${f[1]} ${f[3]}, port ${f[2]}`).join("; ") : undefined;
}

// The validator's own commit, read from .git without git (a host running the checkout may not have git).
export function gitCommit(repo = REPO): string {
  try {
    const gitDir = path.join(repo, ".git");
    const head = readFileSync(path.join(gitDir, "HEAD"), "utf8").trim();
    if (!head.startsWith("ref: ")) return head;
    const ref = head.slice(5);
    const loose = path.join(gitDir, ref);
    if (existsSync(loose)) return readFileSync(loose, "utf8").trim();
    const packed = readFileSync(path.join(gitDir, "packed-refs"), "utf8")
      .split("\n")
      .find((l) => l.endsWith(` ${ref}`));
    return packed?.split(" ")[0] ?? `unknown (${ref} not found)`;
  } catch (err) {
    return `unknown (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  }
}

// The config file this run used, as loadConfig finds it.
export function configFileUsed(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  const file = path.resolve(cwd, env.DEPLOY_CONFIG ?? "deploy.config.json");
  return existsSync(file) ? file : `none (defaults; no ${file})`;
}

// What the report's Environment panel shows: the host, its software versions, and which validator judged it how.
export async function gatherEnvironment(ctx: ProbeContext): Promise<Record<string, string>> {
  const [host, os, kernel, facts, postgres, nginx, systemd] = await Promise.all([
    hostIdentity(ctx).catch(() => undefined),
    ctx.transport.readFile("/etc/os-release").then(parseOsRelease, () => undefined),
    ctx.transport.readFile("/proc/sys/kernel/osrelease").then(
      (t) => t.trim(),
      () => undefined,
    ),
    serviceFacts(ctx).catch((err: unknown) => ({ ran: false as const, as: "", error: (err as Error).message })),
    Promise.all([
      firstLine(ctx, ["psql", "--version"]),
      ctx.transport.run(["pg_lsclusters", "--no-header"]).then(
        (r) => parseClusters(r.stdout),
        () => undefined,
      ),
    ]),
    ctx.config.dependencies.nginx ? firstLine(ctx, ["nginx", "-v"]) : Promise.resolve("not used (no nginx configured)"),
    firstLine(ctx, ["systemctl", "--version"]),
  ]);
  const pkg = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")) as { name: string; version: string };
  const unknown = (why: string) => `unknown (${why})`;
  const django = !facts.ran ? unknown(facts.error) : facts.django.ok ? facts.django.version : unknown(`Django could not start: ${facts.django.error}`);
  const g = facts.ran ? facts.gunicorn : undefined;
  const gunicorn = !facts.ran ? unknown(facts.error) : g?.ok || (g?.notAsked && g.version) ? (g.version as string) : unknown((g as { error: string }).error);
  const env: Record<string, string> = {
    "Host name": host?.hostname ?? unknown("could not read /proc/sys/kernel/hostname"),
    "Machine ID": host?.machineId ?? unknown("could not read /etc/machine-id"),
    OS: os ?? unknown("no PRETTY_NAME in /etc/os-release"),
    Kernel: kernel ?? "unknown",
    Service: ctx.config.service,
    Django: django,
    Gunicorn: gunicorn,
    Python: facts.ran ? facts.python : "unknown",
    PostgreSQL: postgres[1] ? `${postgres[0].replace(/^psql \(PostgreSQL\) /, "")} (cluster ${postgres[1]})` : postgres[0],
    nginx: nginx.replace(/^nginx version: /, ""),
    systemd: systemd,
    Validator: `${pkg.name} ${pkg.version}`,
    "Validator commit": gitCommit(),
    Catalogue: catalogueVersion(),
    "Config file": configFileUsed(),
  };
  // A version string quoting an error could quote a secret: mask like every other text the report carries.
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, redact(v.replace(/\s+/g, " ").slice(0, 300), ctx.secrets)]));
}

let written: Promise<void> | undefined;

// Writes environment.properties into allure-results once per validator process (the first spec file's session);
// Allure's allure2 reader turns it into the report's Environment panel.
export function recordEnvironmentOnce(ctx: ProbeContext, resultsDir: string): Promise<void> {
  written ??= gatherEnvironment(ctx).then((env) => {
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(path.join(resultsDir, "environment.properties"), `${stringifyEnvInfo(env)}\n`);
  });
  return written;
}
