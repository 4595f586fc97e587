import path from "node:path";
import { certifiableName } from "../probes/http.ts";
import { type Listen, type ServerBlock, skippedName } from "../probes/nginx-sites.ts";

// projectDir: the unit's working directory, or its parent when that directory is `backend` (ProjectMeats' layout,
// the one the validator itself assumes when a unit names no WorkingDirectory: projectDir/backend).
export function projectDirFrom(workingDirectory: string): string {
  return path.posix.basename(workingDirectory) === "backend" ? path.posix.dirname(workingDirectory) : workingDirectory;
}

// venvDir: the directory holding bin/<program> when ExecStart runs a program from a venv's bin (.../bin/gunicorn or
// .../bin/python -m gunicorn); undefined for a system-wide install (/usr/bin, /usr/local/bin), which has no venv.
export function venvDirFrom(program: string): string | undefined {
  const m = program.match(/^(\/.+)\/bin\/[^/]+$/);
  if (!m || ["/usr", "/usr/local", "/"].includes(m[1] as string)) return undefined;
  return m[1];
}

// The settings module a manage.py or wsgi.py/asgi.py names in os.environ.setdefault("DJANGO_SETTINGS_MODULE", ...).
export function settingsDefaultIn(source: string): string | undefined {
  return source.match(/setdefault\(\s*["']DJANGO_SETTINGS_MODULE["']\s*,\s*["']([\w.]+)["']\s*\)/)?.[1];
}

// Whether Django's ALLOWED_HOSTS accept a host name: "*", the exact name, or ".example.com" (it and its subdomains).
export function allowedHost(allowed: string[], host: string): boolean {
  const h = host.toLowerCase();
  return allowed.some((a) => {
    const p = a.toLowerCase();
    return p === "*" || p === h || (p.startsWith(".") && (h === p.slice(1) || h.endsWith(p)));
  });
}

// hostHeader: the Host the checks send. The default (localhost) while the site's server block names it (or no nginx
// is in front) and Django accepts it; else the first literal server_name of the block that Django accepts; else the
// block's first literal name; else, without nginx, the first literal ALLOWED_HOSTS entry. Over TLS (`tls`), a name the
// certificate can hold: not localhost, not an IP address (a certbot certificate names the site's public names).
export function hostHeaderFrom(block: Pick<ServerBlock, "names" | "at"> | undefined, allowed: string[] | undefined, dflt: string, tls = false) {
  const local = (n: string) => !certifiableName(n);
  const literal = (block?.names ?? []).filter((n) => !skippedName(n) && !(tls && local(n)));
  const accepts = (n: string) => allowed === undefined || allowedHost(allowed, n);
  if ((!block || literal.includes(dflt)) && accepts(dflt) && !(tls && local(dflt))) return { value: dflt, source: "default: Django accepts it" };
  const named = literal.find(accepts) ?? literal[0];
  if (named) return { value: named, source: `server_name of the nginx block at ${block?.at}${accepts(named) ? ", in ALLOWED_HOSTS" : ""}` };
  const first = (allowed ?? []).find((a) => /^[\w-]+(\.[\w-]+)*$/.test(a));
  if (first) return { value: first, source: "the first literal name in Django's ALLOWED_HOSTS" };
  return { value: dflt, source: "default: no literal name found" };
}

// nginxUrl: where the checks reach nginx: loopback on the block's first TCP listen, https when it speaks TLS
// (`listen 443 ssl`: a certbot site, whose port-80 block only redirects).
export function nginxUrlFrom(listens: Listen[]): string | undefined {
  const l = listens.find((x) => x.port !== undefined && !x.unix);
  if (!l) return undefined;
  const wildcard = l.address === undefined || ["*", "0.0.0.0", "[::]"].includes(l.address);
  const host = wildcard ? "127.0.0.1" : (l.address as string);
  const scheme = l.ssl ? "https" : "http";
  return `${scheme}://${host}${l.port === (l.ssl ? 443 : 80) ? "" : `:${l.port}`}`;
}

// logDir: the directory of Gunicorn's error log (else its access log) when it writes a file; null when both go to
// the journal ("-") or nowhere.
export function logDirFrom(logs: { errorlog: string | null; accesslog: string | null }): string | null {
  const file = [logs.errorlog, logs.accesslog].find((v) => v && v !== "-");
  return file ? path.posix.dirname(file) : null;
}

// staticPath: STATIC_URL (a site path, not a URL on another host) joined with the file collectstatic always writes.
export function staticPathFrom(staticUrl: string, probeFile: string): string | undefined {
  if (!staticUrl.startsWith("/") || staticUrl.startsWith("//")) return undefined;
  return `${staticUrl.replace(/\/*$/, "/")}${probeFile}`;
}

// apiPath: kept while the app routes it (any answer but 404); null when the app answers 404 (no such API); the
// default stands when the app could not be asked (an error, or 400: Django refused the Host before routing).
export function apiPathFrom(status: number | undefined, dflt: string | null) {
  if (status === 404) return { value: null, source: `the app answers 404 for ${dflt}: no API there (HTTP-004 is skipped)` };
  if (status === undefined || status === 400) return { value: dflt, source: "default: the app could not be asked" };
  return { value: dflt, source: `default: the app answers ${status} for it` };
}

// Where Daphne or uWSGI answers HTTP, from its command line (Gunicorn and Uvicorn: the validator finds it itself):
// Daphne's -u/--unix-socket or -b/--bind and -p/--port; uWSGI's --http-socket or --http. Undefined when it speaks
// no HTTP the checks can use (uWSGI's own protocol, --socket) or names no address.
export function otherServerUrl(server: string, argv: string[]): string | undefined {
  const opt = (...names: string[]) => {
    let v: string | undefined;
    argv.forEach((a, i) => {
      for (const n of names) if (a === n) v = argv[i + 1] ?? v;
      for (const n of names.filter((x) => x.startsWith("--"))) if (a.startsWith(`${n}=`)) v = a.slice(n.length + 1);
    });
    return v;
  };
  if (server === "daphne") {
    const unix = opt("-u", "--unix-socket");
    if (unix) return `unix:${unix}`;
    const host = opt("-b", "--bind") ?? "127.0.0.1";
    return `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${opt("-p", "--port") ?? "8000"}`;
  }
  if (server === "uwsgi") {
    const http = opt("--http-socket", "--http");
    if (!http) return undefined;
    if (http.startsWith("/")) return `unix:${http}`;
    const [host, port] = [http.slice(0, http.lastIndexOf(":")), http.slice(http.lastIndexOf(":") + 1)];
    return `http://${!host || host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`;
  }
  return undefined;
}
