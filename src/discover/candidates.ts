import path from "node:path";
import type { ShownUnit } from "../probes/systemctl-show.ts";
import { DISCOVER_EXIT, DiscoverError } from "./errors.ts";

// What discovery reads of every unit on the host, in one `systemctl show`.
export const DISCOVERY_PROPS = ["Id", "LoadState", "ActiveState", "ExecStart", "WorkingDirectory", "TriggeredBy", "Triggers", "UnitFileState"];

export type AppServer = "gunicorn" | "uvicorn" | "daphne" | "uwsgi";

// A service unit that runs a Django app under an app server; `socket`: the .socket unit that starts it. `live`: it
// runs, or starts at boot (enabled, or its socket is): a disabled, stopped unit is a leftover of another deployment.
export type Candidate = { unit: string; server: AppServer; target: string; argv: string[]; activeState: string; socket?: string; live: boolean };

// What the host's units say: the Django candidates, and units running `manage.py runserver` (a development server).
export type UnitSurvey = { candidates: Candidate[]; devServers: string[]; others: string[] };

const SERVERS: AppServer[] = ["gunicorn", "uvicorn", "daphne", "uwsgi"];
// A module:callable target, as Gunicorn, Uvicorn and Daphne take it (uWSGI: --module=...).
const TARGET = /^(?:--module=|--wsgi=)?([A-Za-z_][\w.]*:[A-Za-z_]\w*)(\(.*\))?$/;

// Unit names from `systemctl list-units --plain --no-legend` or `list-unit-files --no-legend` (first column);
// templates (name@.service) have no ExecStart of their own and are left out.
export function parseUnitList(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim().replace(/^●\s*/, "").split(/\s+/)[0] ?? "")
    .filter((n) => /\.(service|socket)$/.test(n) && !n.includes("@."));
}

// The argv of every ExecStart= command in `systemctl show` text (split on spaces: systemd prints it unquoted, so an
// argument with spaces comes apart; only the program and the target are read from it).
export function execArgvs(values: string[]): string[][] {
  return values.flatMap((v) => [...v.matchAll(/argv\[\]=(.*?) ; ignore_errors=/g)].map((m) => (m[1] as string).split(/\s+/).filter(Boolean)));
}

// Which app server an argv runs (its program, or `python -m NAME`) and its module:callable target, if any.
export function appServer(argv: string[]): { server: AppServer; target?: string } | "runserver" | undefined {
  const prog = path.basename(argv[0] ?? "");
  const m = argv.findIndex((a, i) => a === "-m" && SERVERS.includes(argv[i + 1] as AppServer));
  const server = SERVERS.find((s) => prog === s || prog === `${s}-script.py`) ?? (m >= 0 && /python/.test(prog) ? (argv[m + 1] as AppServer) : undefined);
  if (!server) return argv.some((a) => a.endsWith("manage.py")) && argv.includes("runserver") ? "runserver" : undefined;
  const target = argv
    .slice(1)
    .map((a) => a.match(TARGET)?.[1])
    .find(Boolean);
  return { server, target };
}

// A Django WSGI/ASGI module: its last part is wsgi or asgi (projectmeats.wsgi, config.asgi, myproject.wsgi_prod).
export const isDjangoTarget = (target: string) => /(^|\.)[aw]sgi\w*:/.test(target);

// Reads one `systemctl show` of many units: the Django candidates (a loaded service whose ExecStart runs an app
// server on a Django module), each with the socket that starts it; services running runserver; other app servers.
export function surveyUnits(units: ShownUnit[]): UnitSurvey {
  const socketOf = new Map<string, string>();
  const running = (u: ShownUnit) => /^(active|activating|reloading)$/.test(u.one("ActiveState")) || u.one("UnitFileState") === "enabled";
  const liveSockets = new Set<string>();
  for (const u of units)
    if (u.one("Id").endsWith(".socket") && u.one("LoadState") === "loaded") {
      for (const t of u.one("Triggers").split(/\s+/).filter(Boolean)) socketOf.set(t, u.one("Id"));
      if (running(u)) liveSockets.add(u.one("Id"));
    }
  const out: UnitSurvey = { candidates: [], devServers: [], others: [] };
  for (const u of units) {
    const id = u.one("Id");
    if (!id.endsWith(".service") || u.one("LoadState") !== "loaded") continue;
    for (const argv of execArgvs(u.get("ExecStart") ?? [])) {
      const found = appServer(argv);
      if (found === "runserver") out.devServers.push(id);
      else if (found?.target && isDjangoTarget(found.target)) {
        const socket =
          u
            .one("TriggeredBy")
            .split(/\s+/)
            .find((t) => t.endsWith(".socket")) ?? socketOf.get(id);
        const live = running(u) || (socket !== undefined && liveSockets.has(socket));
        out.candidates.push({ unit: id, server: found.server, target: found.target, argv, activeState: u.one("ActiveState"), socket, live });
      } else if (found) out.others.push(`${id} (${found.server} ${found.target ?? "without a module:callable target"})`);
      else continue;
      break;
    }
  }
  return out;
}

// The candidate to describe: the one named by --service, else the only one; else why not, as a DiscoverError.
export function chooseCandidate(survey: UnitSurvey, wanted?: string): Candidate {
  const { candidates } = survey;
  const names = candidates.map((c) => c.unit.replace(/\.service$/, ""));
  if (wanted) {
    const c = candidates.find((x) => x.unit === wanted || x.unit === `${wanted}.service`);
    if (c) return c;
    const known = names.length ? `the Django services here: ${names.join(", ")}` : "this host runs no Django service";
    throw new DiscoverError(`--service ${wanted}: no such Django service (${known})`, DISCOVER_EXIT.usage);
  }
  if (candidates.length === 1) return candidates[0] as Candidate;
  // Several: the only one that runs or starts at boot; the others are leftovers, named in the table's notes.
  const live = candidates.filter((c) => c.live);
  if (live.length === 1) return live[0] as Candidate;
  if (candidates.length > 1)
    throw new DiscoverError(`${candidates.length} Django services run on this host (${names.join(", ")}): name one with --service NAME`, DISCOVER_EXIT.usage);
  const dev = survey.devServers.length ? `; ${survey.devServers.join(", ")} run manage.py runserver, a development server not to deploy` : "";
  const other = survey.others.length ? `; not Django: ${survey.others.join(", ")}` : "";
  throw new DiscoverError(
    `no Django service found: no loaded systemd service runs gunicorn, uvicorn, daphne or uwsgi on a Django wsgi/asgi module${dev}${other}`,
    DISCOVER_EXIT.notFound,
  );
}
