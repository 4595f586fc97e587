import path from "node:path";
import type { ProbeContext } from "./context.ts";
import { serviceEnv } from "./environment.ts";
import { serviceFacts } from "./service-facts.ts";
import { serviceUnit, wsgiModule } from "./systemd.ts";

// A module's file under `base`: the .py, or the package's __init__.py (undefined when neither is there).
async function moduleFile(ctx: ProbeContext, base: string, module: string): Promise<string | undefined> {
  const stem = `${base}/${module.replaceAll(".", "/")}`;
  const [py, pkg] = await Promise.all([ctx.transport.stat(`${stem}.py`), ctx.transport.stat(`${stem}/__init__.py`)]);
  return py?.isFile ? `${stem}.py` : pkg?.isFile ? `${stem}/__init__.py` : undefined;
}

// The path a failed Django start was refused, from Python's "PermissionError: [Errno 13] Permission denied: '<path>'".
export function deniedPath(error: string): string | undefined {
  return error.match(/\[Errno 13\] Permission denied: '(\/[^']+)'/)?.[1];
}

// The refused path when it is a plain path inside the project: the message comes from the app's own code, so a
// path with "..", "//" or outside the project is not taken (root would be asked to change it).
export function refusedInProject(error: string, projectDir: string): string | undefined {
  const denied = deniedPath(error);
  return denied && path.posix.normalize(denied) === denied && denied.startsWith(`${projectDir}/`) ? denied : undefined;
}

// Modules a failed start could not import: a package Python saw only as a directory it could not read ("from 'x'
// (unknown location)") or did not find ("No module named 'x'"). Kept only if the module is there for root.
export function unimportedModules(error: string): string[] {
  const unknown = [...error.matchAll(/from '([\w.]+)' \(unknown location\)/g)].map((m) => m[1] as string);
  const missing = [...error.matchAll(/No module named '([\w.]+)'/g)].map((m) => m[1] as string);
  return [...new Set([...unknown, ...missing])];
}

// At most this many paths of the project's packages are judged (a bigger tree is judged in part, and says so).
export const TREE_CAP = 2000;

// Every directory and .py file of these package trees, from one find(1) as root (caches skipped), at most TREE_CAP.
async function packageTrees(ctx: ProbeContext, dirs: string[]): Promise<string[]> {
  if (!dirs.length) return [];
  const script = 'find "$@" -xdev -name __pycache__ -prune -o \\( -type d -o -type f -name "*.py" \\) -print0 | head -z -n ' + String(TREE_CAP);
  const r = await ctx.transport.run(["sh", "-c", script, "sh", ...dirs], { timeoutMs: ctx.config.timeouts.commandMs });
  return r.stdout.split("\0").filter((p) => p.startsWith("/"));
}

// The project's code the service must read to start, found as root: manage.py, the WSGI module, the settings
// module, each INSTALLED_APPS package that lives in the project (Django's answer, when it could start), what a failed
// start could not read (a path it was refused, a package it could not import), and every directory and .py file of
// the top-level packages those live in (Python lists a directory to import from it). Packages from the venv or the system are not the deployment's to chmod.
export async function startupCodeFiles(ctx: ProbeContext): Promise<string[]> {
  const [u, { env }, f] = await Promise.all([serviceUnit(ctx), serviceEnv(ctx), serviceFacts(ctx)]);
  const base = u.workingDirectory || `${ctx.config.projectDir}/backend`;
  const settings = f.ran && f.django.ok && !("error" in f.django.settings) ? f.django.settings : undefined;
  // An app may be named by its AppConfig class ("shop.apps.ShopConfig"): its module is then one name shorter.
  const apps = (settings?.INSTALLED_APPS ?? []).flatMap((a) => [a, a.split(".").slice(0, -1).join(".")]);
  const failed = f.ran && !f.django.ok ? f.django.error : "";
  const modules = [wsgiModule(u), settings?.module ?? env.DJANGO_SETTINGS_MODULE ?? ctx.config.settingsModule, ...apps, ...unimportedModules(failed)];
  const found = await Promise.all(modules.filter((m): m is string => !!m && /^[A-Za-z_][\w.]*$/.test(m)).map((m) => moduleFile(ctx, base, m)));
  const refused = refusedInProject(failed, ctx.config.projectDir);
  const files = found.filter((p): p is string => !!p);
  // The top-level packages those modules live in (apps/, projectmeats/): every module in them may be imported.
  const tops = [...new Set(files.filter((p) => p.startsWith(`${base}/`)).map((p) => `${base}/${p.slice(base.length + 1).split("/")[0]}`))];
  // Without find (or past its timeout) the named files are still judged; the pass message lists what was.
  const trees = await packageTrees(
    ctx,
    tops.filter((t) => !t.endsWith(".py")),
  ).catch(() => []);
  return [...new Set([`${base}/manage.py`, ...files, ...trees, ...(refused ? [refused] : [])])];
}
