import path from "node:path";
import { ConfigSchema } from "../config/schema.ts";
import { ProbeContext } from "../probes/context.ts";
import { type Endpoint, gunicornEndpoint, parseEndpoint } from "../probes/endpoint.ts";
import { unitEnvSources } from "../probes/environment.ts";
import { gunicornLogs } from "../probes/app-writes.ts";
import { healthPlan } from "../probes/health-plan.ts";
import { fetchCached } from "../probes/http.ts";
import { nginxSites, reachesEndpoint } from "../probes/nginx-sites.ts";
import { serviceFacts, type SettingsFacts } from "../probes/service-facts.ts";
import { showProperties, systemctlFailed } from "../probes/systemctl-show.ts";
import { serviceUnit, showUnits } from "../probes/systemd.ts";
import type { Transport } from "../transport/types.ts";
import { type Candidate, chooseCandidate, DISCOVERY_PROPS, parseUnitList, surveyUnits, type UnitSurvey } from "./candidates.ts";
import {
  apiPathFrom,
  hostHeaderFrom,
  logDirFrom,
  nginxUrlFrom,
  otherServerUrl,
  projectDirFrom,
  settingsDefaultIn,
  staticPathFrom,
  venvDirFrom,
} from "./derive.ts";
import { DISCOVER_EXIT, DiscoverError } from "./errors.ts";
import { DEFAULTS, type Finding } from "./minimal.ts";

// What discovery found for the chosen service: config findings (written when they differ from the defaults) and
// facts shown for information only (bind, database, health paths: the validator learns those at run time).
export type Discovery = { candidate: Candidate; survey: UnitSurvey; findings: Finding[]; info: Finding[]; notes: string[] };

// Every service and socket unit systemd knows (loaded, or installed and not loaded), described in one `systemctl show`.
export async function surveyHost(t: Transport): Promise<UnitSurvey> {
  const ask = async (argv: string[]) => {
    const r = await t.run(argv);
    if (r.exitCode !== 0) throw systemctlFailed(argv.slice(0, 2).join(" "), r);
    return parseUnitList(r.stdout);
  };
  const [loaded, files] = await Promise.all([
    ask(["systemctl", "list-units", "--type=service,socket", "--all", "--no-legend", "--plain", "--no-pager"]),
    ask(["systemctl", "list-unit-files", "--type=service,socket", "--no-legend", "--no-pager"]),
  ]);
  const names = [...new Set([...loaded, ...files])];
  return surveyUnits(await showProperties(t, names, DISCOVERY_PROPS));
}

// Finds the Django service (the only one, or `service`) and derives each config field from the host, asking the
// validator's own probes through a probe context whose config names the candidate.
export async function discoverHost(t: Transport, opts: { service?: string } = {}): Promise<Discovery> {
  const survey = await surveyHost(t).catch((err: Error) => {
    throw new DiscoverError(err.message, DISCOVER_EXIT.notFound);
  });
  const candidate = chooseCandidate(survey, opts.service);
  const service = candidate.unit.replace(/\.service$/, "");
  const findings: Finding[] = [];
  const info: Finding[] = [];
  const notes: string[] = survey.devServers.map((u) => `${u} runs manage.py runserver: a development server, not for production`);
  for (const c of survey.candidates.filter((x) => x !== candidate))
    notes.push(`also ${c.unit} (${c.target}, ${c.live ? "running" : "disabled and stopped"}): --service to describe it`);
  // A later finding for a field replaces the earlier one (Django's own answer over the unit's hint).
  const found = (field: string, value: unknown, source: string) => {
    const at = findings.findIndex((f) => f.field === field);
    findings.splice(at < 0 ? findings.length : at, at < 0 ? 0 : 1, { field, value, source });
  };
  found("service", service, `ExecStart runs ${candidate.server} on ${candidate.target}${candidate.socket ? `, started by ${candidate.socket}` : ""}`);

  // First the unit itself (envFiles [] so a unit naming none reads no default env file).
  const first = new ProbeContext(ConfigSchema.parse({ service, envFiles: [] }), t);
  const unit = await serviceUnit(first);
  // Gunicorn's --chdir, from systemd's exact argv (busctl), as the validator reads ExecStart.
  const argv = unit.execStart?.argv ?? candidate.argv;
  const chdir = argv.includes("--chdir") ? argv[argv.indexOf("--chdir") + 1] : argv.find((a) => a.startsWith("--chdir="))?.slice(8);
  const workDir = unit.workingDirectory || chdir;
  if (workDir) found("projectDir", projectDirFrom(workDir), `WorkingDirectory ${workDir}${path.posix.basename(workDir) === "backend" ? " (its parent)" : ""}`);
  else notes.push("the unit names no WorkingDirectory and Gunicorn no --chdir: projectDir left at its default");
  const program = unit.execStart?.path ?? candidate.argv[0] ?? "";
  const venv = venvDirFrom(program);
  if (venv) found("venvDir", venv, `ExecStart's program ${program}`);
  else notes.push(`ExecStart runs ${program || "nothing readable"}, not from a venv: venvDir left at its default`);
  found(
    "envFiles",
    unit.environmentFiles.map((f) => f.path),
    unit.environmentFiles.length ? "EnvironmentFile= of the unit" : "the unit names no EnvironmentFile=",
  );

  const settingsModule = await settingsModuleOf(first, workDir, candidate.target);
  if (settingsModule) found("settingsModule", settingsModule.value, settingsModule.source);
  else notes.push("no DJANGO_SETTINGS_MODULE in the unit's environment, manage.py or the wsgi/asgi module: settingsModule left at its default");

  // Then Django and Gunicorn as the service runs them: one Python start as its user, with its environment.
  const config = () => ConfigSchema.parse(Object.fromEntries(findings.filter((f) => !f.field.includes(".")).map((f) => [f.field, f.value])));
  const ctx = new ProbeContext(config(), t);
  ctx.reads = new Set(["gunicorn-config"]); // and Django's settings; no check --deploy, no migrations
  const settings = await djangoSettings(ctx, notes);
  if (settings && settings.module !== settingsModule?.value) found("settingsModule", settings.module, "Django's settings as the service loads them");

  let ep: Endpoint | undefined;
  const otherUrl = candidate.server === "daphne" || candidate.server === "uwsgi" ? otherServerUrl(candidate.server, candidate.argv) : undefined;
  if (otherUrl) {
    found("gunicornUrl", otherUrl, `${candidate.server}'s command line`);
    ep = parseEndpoint(otherUrl, `${candidate.server}'s command line`);
  } else if (candidate.server === "daphne" || candidate.server === "uwsgi") {
    notes.push(`${candidate.server} speaks no HTTP the checks can reach (uWSGI --socket?): gunicornUrl left unset`);
  } else {
    ep = await gunicornEndpoint(ctx).catch(() => undefined);
    if (ep) info.push({ field: "bind", value: ep.label, source: `${ep.source} (found at run time; not written)` });
  }

  try {
    const logs = await gunicornLogs(ctx);
    const dir = logDirFrom(logs);
    found(
      "logDir",
      dir,
      dir
        ? `Gunicorn's ${logs.errorlog && logs.errorlog !== "-" ? "error" : "access"} log, from ${logs.source}`
        : `Gunicorn logs to the journal (${logs.source})`,
    );
  } catch (err) {
    found("logDir", null, `${candidate.server} writes no log file the validator knows of (${(err as Error).message.slice(0, 80)}): the journal`);
  }

  if (settings) {
    const staticPath = staticPathFrom(settings.STATIC_URL ?? "", DEFAULTS.staticProbeFile);
    if (staticPath) found("staticPath", staticPath, `STATIC_URL ${settings.STATIC_URL} + ${DEFAULTS.staticProbeFile}`);
    else notes.push(`STATIC_URL ${JSON.stringify(settings.STATIC_URL ?? "")} is not a path on this site: staticPath left at its default`);
    if (settings.STATIC_ROOT) found("staticRoot", settings.STATIC_ROOT, "Django's STATIC_ROOT");
    else notes.push("Django's STATIC_ROOT is unset (or an older service-facts.py answered): staticRoot left at its default");
    const db = settings.DATABASE;
    info.push({
      field: "database",
      value: `${db.ENGINE.split(".").pop()} ${db.NAME} on ${db.HOST || "the local socket"}${db.PORT ? `:${db.PORT}` : ""}`,
      source: "DATABASES['default']",
    });
  }

  await describeNginx(ctx, ep, settings, found, info, notes);

  // Last, what the app answers, asked with the Host just found.
  const host = findings.filter((f) => f.field === "hostHeader").at(-1)?.value as string | undefined;
  const asked = new ProbeContext(ConfigSchema.parse({ ...config(), ...(ep ? { gunicornUrl: ep.label } : {}), ...(host ? { hostHeader: host } : {}) }), t);
  if (ep) {
    const r = await fetchCached(asked, ep.label, DEFAULTS.apiPath as string);
    const api = apiPathFrom("error" in r ? undefined : r.status, DEFAULTS.apiPath);
    found("apiPath", api.value, api.source);
    const plan = await healthPlan(asked).catch(() => undefined);
    if (plan) info.push({ field: "health", value: plan.paths.join(", "), source: `${plan.source} (asked at run time; not written)` });
  }
  await Promise.all([first.close(), ctx.close(), asked.close()]);
  return { candidate, survey, findings, info, notes };
}

// DJANGO_SETTINGS_MODULE: the unit's environment (the last source setting it wins), else manage.py's setdefault in
// the working directory, else the setdefault in the ExecStart target's module file.
async function settingsModuleOf(ctx: ProbeContext, workDir: string | undefined, target: string) {
  const sources = await unitEnvSources(ctx).catch(() => []);
  const setter = sources.filter((s) => s.env.DJANGO_SETTINGS_MODULE).at(-1);
  if (setter)
    return { value: setter.env.DJANGO_SETTINGS_MODULE as string, source: `${setter.kind} ${setter.kind === "Environment=" ? "of the unit" : setter.name}` };
  if (!workDir) return undefined;
  const files = [`${workDir}/manage.py`, `${workDir}/${target.split(":")[0]?.replace(/\./g, "/")}.py`];
  for (const f of files) {
    const text = await ctx.transport.readFile(f).catch(() => "");
    const m = settingsDefaultIn(text);
    if (m) return { value: m, source: `the setdefault in ${f}` };
  }
  return undefined;
}

// Django's settings from the one Python start, or undefined (with a note saying why).
async function djangoSettings(ctx: ProbeContext, notes: string[]): Promise<SettingsFacts | undefined> {
  const f = await serviceFacts(ctx);
  const why = !f.ran ? f.error : !f.django.ok ? f.django.error : "error" in f.django.settings ? f.django.settings.error : undefined;
  if (why === undefined && f.ran && f.django.ok && !("error" in f.django.settings)) return f.django.settings;
  notes.push(`Django's settings could not be read (${ctx.clip(why ?? "no answer", 160)}): static fields and hostHeader left at their defaults`);
  return undefined;
}

// nginx in front: the server block proxying to the app's bind gives nginxUrl and hostHeader; no nginx unit, or no
// block reaching the app: nginxUrl null. A configuration that cannot be read stops discovery (exit 78).
async function describeNginx(
  ctx: ProbeContext,
  ep: Endpoint | undefined,
  settings: SettingsFacts | undefined,
  found: (field: string, value: unknown, source: string) => void,
  info: Finding[],
  notes: string[],
) {
  const allowed = settings?.ALLOWED_HOSTS;
  const nginx = (await showUnits(ctx)).get("nginx");
  if (nginx?.loadState !== "loaded") {
    found("nginxUrl", null, "no nginx.service on this host");
    found("dependencies.nginx", null, "no nginx.service on this host");
    const h = hostHeaderFrom(undefined, allowed, DEFAULTS.hostHeader);
    return found("hostHeader", h.value, h.source);
  }
  const sites = await nginxSites(ctx).catch((err: Error) => {
    throw new DiscoverError(`nginx's configuration cannot be read: ${err.message}`, DISCOVER_EXIT.nginx);
  });
  const blocks = ep ? sites.servers.filter((s) => s.targets.some((t) => reachesEndpoint(t, ep))) : [];
  const block = blocks[0];
  if (!block) {
    found("nginxUrl", null, `no nginx server block proxies to ${ep?.label ?? "the app"} (${sites.source})`);
    const h = hostHeaderFrom(undefined, allowed, DEFAULTS.hostHeader);
    return found("hostHeader", h.value, h.source);
  }
  if (blocks.length > 1) notes.push(`${blocks.length} nginx server blocks proxy to ${ep?.label}: the first (${block.at}) was used`);
  const url = nginxUrlFrom(block.listens);
  if (url) found("nginxUrl", url, `listen of the nginx block at ${block.at}`);
  else notes.push(`the nginx block at ${block.at} listens on no TCP port: nginxUrl left at its default`);
  const h = hostHeaderFrom(block, allowed, DEFAULTS.hostHeader, !!url?.startsWith("https:"));
  found("hostHeader", h.value, h.source);
  info.push({ field: "server_name", value: block.names.join(" ") || "(none)", source: block.at });
}
