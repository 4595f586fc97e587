import type { ProbeContext } from "../probes/context.ts";
import { gunicornBase, gunicornEndpoint } from "../probes/endpoint.ts";
import { healthPlan, type HealthPlan } from "../probes/health-plan.ts";
import { certifiableName, fetchCached, hostnameOf, originOf, summarize, tlsName, type HttpResponse, type HttpResult } from "../probes/http.ts";
import { connectError } from "../probes/connect.ts";
import { lookAtCertificate } from "../probes/tls-cert.ts";
import { urlUnder } from "../probes/media.ts";
import { blockFor, blocksOn, nginxSites, type ServerBlock, siteBlocks, skippedName } from "../probes/nginx-sites.ts";
import { staticAnswerProblem, staticSample, staticUrlPrefix } from "../probes/static-files.ts";
import { defineCheck, fail, pass, withoutNginx } from "./define.ts";

// Why nginx refuses connections at its URL, when its configuration shows it: no server block listens on that port
// (a site unlinked from sites-enabled), which no proxy_pass change cures.
async function refusedHint(ctx: ProbeContext, base: string, rs: HttpResult[]): Promise<string> {
  if (!rs.some((r) => "error" in r && r.error === "ECONNREFUSED")) return "";
  const sites = await nginxSites(ctx).catch(() => undefined);
  if (!sites || blocksOn(sites.servers, base).length) return "";
  const u = new URL(base);
  const port = u.port || (u.protocol === "https:" ? "443" : "80");
  return (
    `; ${sites.source} shows no server block listening on port ${port}: ` +
    "is the site linked into /etc/nginx/sites-enabled/? (link it back, nginx -t, systemctl reload nginx)"
  );
}

// What a TLS verification error of the site's own name means (Node's and OpenSSL's codes), or "".
function tlsHint(ctx: ProbeContext, error: string): string {
  if (!/CERT|SELF_SIGNED|UNABLE_TO_|DEPTH_ZERO|ERR_TLS|ERR_SSL/.test(error)) return "";
  const name = tlsName(ctx.config.hostHeader) ?? ctx.config.hostHeader;
  if (/ALTNAME/.test(error)) return `; the certificate nginx sends does not name ${name}: set hostHeader to a name it holds, or reissue it for ${name}`;
  return `; the certificate nginx sends for ${name} does not verify (HTTP-012's fix applies)`;
}

// A health answer is config.health's status with a JSON body whose status is "healthy" (a 200 HTML page is not
// health), or with a body matching health.bodyMatch, or (json false) the status alone.
function healthProblem(ctx: ProbeContext, h: HealthPlan["health"], r: HttpResult): string | undefined {
  if ("error" in r) return summarize(ctx, r);
  if (r.status !== h.status) return summarize(ctx, r);
  if (h.bodyMatch !== undefined) return new RegExp(h.bodyMatch).test(r.body) ? undefined : `${summarize(ctx, r)} does not match /${h.bodyMatch}/`;
  if (!h.json) return undefined;
  try {
    const body = JSON.parse(r.body) as { status?: unknown };
    return body.status === "healthy" ? undefined : summarize(ctx, r);
  } catch {
    return `${summarize(ctx, r)} is not JSON (content-type ${r.headers["content-type"] ?? "none"})`;
  }
}

// A same-site redirect (nginx's 301 from /health to /health/) to a path on this base, or undefined.
function sameSiteRedirect(ctx: ProbeContext, base: string, r: HttpResult): string | undefined {
  if ("error" in r || ![301, 302, 307, 308].includes(r.status) || !r.headers.location) return undefined;
  const to = new URL(r.headers.location, r.url);
  const ours = [hostnameOf(base), ctx.config.hostHeader.replace(/:\d+$/, "")];
  return ours.includes(to.hostname) ? to.pathname + to.search : undefined;
}

// One health path's answer: healthy directly, healthy after one same-site redirect (with advice), or the problem.
async function healthOf(ctx: ProbeContext, base: string, path: string, method: "GET" | "HEAD") {
  const r = await fetchCached(ctx, base, path, { method });
  const h = (await healthPlan(ctx)).health;
  const problem = method === "GET" ? healthProblem(ctx, h, r) : "error" in r || r.status !== h.status ? summarize(ctx, r) : undefined;
  if (!problem) return { r };
  const target = sameSiteRedirect(ctx, base, r);
  if (!target || target === path) return { r, problem };
  const t = await healthOf(ctx, base, target, method).then((x) => (x.advice ? { ...x, problem: "two redirects" } : x));
  if (t.problem) return { r, problem };
  // Healthy behind the redirect: not a failure, but a load balancer's probe may not follow redirects.
  return { r, advice: `${path} redirects (${"status" in r ? r.status : "?"}) to ${target}, which answers healthy; point load-balancer probes at ${target}` };
}

// GET every health path and HEAD the first one, against one base URL.
async function healthThrough(ctx: ProbeContext, base: string) {
  const plan = await healthPlan(ctx);
  const paths = plan.paths;
  const [gets, head] = await Promise.all([Promise.all(paths.map((p) => healthOf(ctx, base, p, "GET"))), healthOf(ctx, base, paths[0] as string, "HEAD")]);
  // Paths that got the same wrong answer are listed once: "/health, /health/: HTTP 400 page "Bad Request (400)"".
  const byAnswer = new Map<string, string[]>();
  gets.forEach(({ r, problem }, i) => {
    const answer = problem?.replace(`${r.url}: `, "");
    if (answer) byAnswer.set(answer, [...(byAnswer.get(answer) ?? []), paths[i] as string]);
  });
  const problems = [...byAnswer].map(([answer, ps]) => `GET ${ps.join(", ")}: ${answer}`);
  if (head.problem) problems.push(`HEAD ${head.problem}`);
  const advice = [...new Set([...gets, head].flatMap((x) => (x.advice ? [x.advice] : [])))];
  const sent = `(${originOf(base)}, Host: ${ctx.config.hostHeader})`;
  const chosen = plan.paths === ctx.config.healthPaths || plan.source === "the known health paths" ? "" : `; health paths: ${plan.source}`;
  if (problems.length) return fail(`${problems.join("; ")} ${sent}${chosen}`);
  const h = plan.health;
  const want = h.bodyMatch !== undefined ? `${h.status} matching /${h.bodyMatch}/` : h.json ? `${h.status} {"status":"healthy"}` : `${h.status}`;
  return pass(`${paths.join(", ")}: ${want} (GET), HEAD ${h.status} ${sent}${chosen}${advice.length ? `; advice: ${advice.join("; ")}` : ""}`);
}

// What a response is, for telling answers apart: its status class and media type ("2xx application/json").
const kindOf = (r: HttpResponse) => `${Math.floor(r.status / 100)}xx ${(r.headers["content-type"] ?? "no type").split(";")[0]?.trim().toLowerCase()}`;

// What is wrong with one served name, judged against Host: hostHeader's answer for the same path, or undefined.
// "Lands on another server block" is judged two ways, both simple: the configuration names it in an earlier block
// too (nginx keeps the first and ignores the later one), or its answer is of another kind than hostHeader's (status
// class or media type: a catch-all's 444/404, another site's HTML where the app answers JSON). A redirect to another
// name of the same site passes: that name is probed itself.
export function servedNameProblem(
  name: string,
  r: HttpResult,
  ref: HttpResponse,
  site: { block: ServerBlock; candidates: ServerBlock[]; names: string[]; hostHeader: string },
  summary: (r: HttpResult) => string,
): string | undefined {
  const where = `served by server block at ${site.block.at}`;
  const first = blockFor(site.candidates, name);
  if (first && first !== site.block) return `${name}: lands on the server block at ${first.at}, which names it first (nginx ignores it in ${site.block.at})`;
  if ("error" in r) return `${name}: ${r.error}; ${where}`;
  if (r.status === 400)
    return `${name}: ${r.body.includes("Bad Request (400)") ? "HTTP 400 from Django (not in ALLOWED_HOSTS)" : summary(r).replace(`${r.url}: `, "")}; ${where}`;
  if (kindOf(r) === kindOf(ref)) return undefined;
  const to = r.status >= 300 && r.status < 400 && r.headers.location ? URL.parse(r.headers.location, r.url)?.hostname : undefined;
  if (to && to !== name && site.names.includes(to)) return undefined;
  return `${name}: ${kindOf(r)} where Host: ${site.hostHeader} gets ${kindOf(ref)} (another server block or app answers it); ${where}`;
}

// HTTP-009: every literal server_name of the site's server blocks, sent as Host through nginx.
async function servedNames(ctx: ProbeContext) {
  const base = ctx.config.nginxUrl as string;
  const [sites, ep] = await Promise.all([nginxSites(ctx), gunicornEndpoint(ctx)]);
  const { blocks, candidates, elsewhere, fallback } = siteBlocks(sites, ep, base, ctx.config.hostHeader);
  if (!blocks.length) throw new Error(`no server block in ${sites.source} listens where nginxUrl ${base} connects`);
  // The first health path, or where nginx redirects it for Host: hostHeader (/health -> /health/): a name's
  // request must reach Django, not stop at nginx's own redirect.
  const first = (await healthPlan(ctx)).paths[0] as string;
  const r0 = await fetchCached(ctx, base, first);
  const moved = sameSiteRedirect(ctx, base, r0);
  const path = moved && moved !== first ? moved : first;
  const ref = path === first ? r0 : await fetchCached(ctx, base, path);
  if ("error" in ref) throw new Error(`Host: ${ctx.config.hostHeader} through nginx: ${summarize(ctx, ref)}`);
  const all = [...new Set(blocks.flatMap((b) => b.names))];
  const skipped = all.flatMap((n) => skippedName(n) ?? []);
  const names = all.filter((n) => !skippedName(n));
  const answers = await Promise.all(names.map((n) => fetchCached(ctx, base, path, { host: n })));
  const blockOf = (n: string) => blocks.find((b) => b.names.includes(n)) as ServerBlock;
  const problems = names.flatMap(
    (n, i) =>
      servedNameProblem(n, answers[i] as HttpResult, ref, { block: blockOf(n), candidates, names, hostHeader: ctx.config.hostHeader }, (r) =>
        summarize(ctx, r),
      ) ?? [],
  );
  const how = fallback ? `none proxies to Gunicorn at ${ep.label}: the one serving Host: ${ctx.config.hostHeader}` : `proxying to Gunicorn at ${ep.label}`;
  const also = [
    ...(skipped.length ? [`skipped: ${skipped.join(", ")}`] : []),
    ...(elsewhere.length ? [`not probed (not reached through ${originOf(base)}): ${elsewhere.map((b) => `${b.at} ${b.names.join(" ")}`).join("; ")}`] : []),
  ];
  if (problems.length) {
    const context = [`GET ${path} through ${originOf(base)}, from ${sites.source}`, ...(fallback ? [`server block: ${how}`] : []), ...also].join("; ");
    return fail(ctx.clip(`${problems.join("; ")} (${context})`, 1500));
  }
  const said = names.length
    ? `${names.length} name${names.length > 1 ? "s answer" : " answers"} like Host: ${ctx.config.hostHeader} (${kindOf(ref)}): ${names.join(", ")}`
    : "no literal server_name to probe";
  const blocksSaid = `server block${blocks.length > 1 ? "s" : ""} ${blocks.map((b) => b.at).join(", ")} (${how}, from ${sites.source})`;
  return pass(ctx.clip([`GET ${path}: ${said}`, blocksSaid, ...also].join("; "), 1500));
}

export const httpChecks = [
  defineCheck(
    {
      id: "HTTP-001",
      title: "Health endpoints answer healthy JSON through Gunicorn",
      suite: "http",
      severity: "critical",
      smoke: true,
      expects:
        'GET on every health path: health.status (200) with JSON {"status":"healthy"}, or a body matching health.bodyMatch, or the status ' +
        "alone when health.json is false; HEAD on the first: that status (a same-site redirect to a path that answers so counts, with advice)",
      recommendation:
        "A 400 means the Host header is not in ALLOWED_HOSTS; a 500 means the app fails: " +
        "read journalctl -u <service>. Connection refused: Gunicorn is not bound where configured",
      fixId: "fix-allowed-hosts",
      dependsOn: ["SVC-015", "FS-001"],
    },
    { run: async (ctx) => healthThrough(ctx, await gunicornBase(ctx)) },
  ),
  defineCheck(
    {
      id: "HTTP-002",
      reads: ["gunicorn-config"],
      title: "Health endpoints answer healthy JSON through nginx",
      suite: "http",
      severity: "critical",
      smoke: true,
      expects:
        'through nginx, GET on every health path: 200 with JSON {"status":"healthy"} (not the SPA\'s index.html); ' +
        "HEAD on the first: 200 (a same-site redirect to a path that answers so counts, with advice)",
      recommendation: "Proxy every health path (/health, /health/, /api/health) to Gunicorn in the nginx site, then nginx -t && systemctl reload nginx",
      dependsOn: ["HTTP-001", "HTTP-007", "HTTP-011"],
    },
    { skipIf: withoutNginx, run: (ctx) => healthThrough(ctx, ctx.config.nginxUrl as string) },
  ),
  defineCheck(
    {
      id: "HTTP-003",
      reads: ["gunicorn-config"],
      title: "The Django admin login page renders",
      suite: "http",
      severity: "high",
      expects: "GET the admin login path (adminLoginPath, /admin/login/ by default) through Gunicorn: 200 with 'Django administration' in the page",
      recommendation: "Check that django.contrib.admin is installed and routed in urls.py; a 500 is in the journal",
      dependsOn: ["HTTP-001"],
    },
    {
      async run(ctx) {
        const r = await fetchCached(ctx, await gunicornBase(ctx), ctx.config.adminLoginPath);
        return !("error" in r) && r.status === 200 && r.body.includes("Django administration")
          ? pass(`${r.url}: 200, admin login form`)
          : fail(summarize(ctx, r));
      },
    },
  ),
  defineCheck(
    {
      id: "HTTP-004",
      reads: ["gunicorn-config"],
      title: "The API refuses anonymous requests",
      suite: "http",
      severity: "critical",
      smoke: true,
      expects: "GET on the API path without credentials: 401 or 403",
      recommendation: "Set REST_FRAMEWORK DEFAULT_PERMISSION_CLASSES to IsAuthenticated in the production settings",
      dependsOn: ["HTTP-001"],
    },
    {
      skipIf: (ctx) => (ctx.config.apiPath === null ? "apiPath is null: this app has no API" : undefined),
      async run(ctx) {
        const r = await fetchCached(ctx, await gunicornBase(ctx), ctx.config.apiPath as string);
        return !("error" in r) && (r.status === 401 || r.status === 403) ? pass(`${r.url}: ${r.status}`) : fail(summarize(ctx, r));
      },
    },
  ),
  defineCheck(
    {
      id: "HTTP-005",
      reads: ["gunicorn-config"],
      title: "A request with a Host that is not allowed is rejected",
      suite: "http",
      severity: "high",
      expects: "GET health with Host: ddv-not-allowed.invalid: 400 (DisallowedHost)",
      recommendation: "List only your real hostnames in ALLOWED_HOSTS (never '*'), then restart the service",
      fixId: "fix-allowed-hosts",
      dependsOn: ["HTTP-001"],
    },
    {
      async run(ctx) {
        const r = await fetchCached(ctx, await gunicornBase(ctx), (await healthPlan(ctx)).paths[0] as string, { host: "ddv-not-allowed.invalid" });
        return !("error" in r) && r.status === 400 ? pass(`${r.url} with a foreign Host: 400`) : fail(`${summarize(ctx, r)} for Host ddv-not-allowed.invalid`);
      },
    },
  ),
  defineCheck(
    {
      id: "HTTP-006",
      title: "nginx serves static files with caching headers",
      suite: "http",
      severity: "medium",
      expects: "GET the static probe file through nginx: 200 with Cache-Control max-age or Expires",
      recommendation: "In the nginx site: `location /django_static/ { alias <STATIC_ROOT>/; expires 30d; }`, then reload nginx",
      // STATIC_ROOT usually lives under the WorkingDirectory: if nobody can enter that, SVC-004 says so.
      dependsOn: ["SVC-013", "FS-004", "SVC-004", "HTTP-010"],
    },
    {
      skipIf: withoutNginx,
      async run(ctx) {
        const r = await fetchCached(ctx, ctx.config.nginxUrl as string, ctx.config.staticPath);
        if ("error" in r || r.status !== 200) return fail(summarize(ctx, r));
        const cc = r.headers["cache-control"] ?? "";
        const cached = /max-age=\d*[1-9]/.test(cc) || Boolean(r.headers.expires);
        return cached ? pass(`${r.url}: 200, Cache-Control "${cc}"`) : fail(`${r.url}: 200 but no Cache-Control max-age and no Expires`);
      },
    },
  ),
  defineCheck(
    {
      id: "HTTP-007",
      reads: ["gunicorn-config"],
      title: "nginx reaches Gunicorn (no 502/504)",
      suite: "http",
      severity: "critical",
      smoke: true,
      expects: "health, admin and API paths through nginx answer without 502, 503 or 504",
      recommendation: "nginx cannot reach the upstream: make its proxy_pass/upstream match Gunicorn's --bind, then reload nginx",
      dependsOn: ["SVC-013", "HTTP-011", "HTTP-001", "SVC-020"],
    },
    {
      skipIf: withoutNginx,
      async run(ctx) {
        const base = ctx.config.nginxUrl as string;
        const paths = [(await healthPlan(ctx)).paths[0] as string, ctx.config.adminLoginPath, ...(ctx.config.apiPath ? [ctx.config.apiPath] : [])];
        const rs = await Promise.all(paths.map((p) => fetchCached(ctx, base, p)));
        const bad = rs.filter((r) => "error" in r || [502, 503, 504].includes(r.status));
        return bad.length
          ? fail(`${bad.map((r) => summarize(ctx, r)).join("; ")}${await refusedHint(ctx, base, bad)}`)
          : pass(rs.map((r) => `${new URL(r.url).pathname} ${"status" in r ? r.status : "?"}`).join(", "));
      },
    },
  ),
  defineCheck(
    {
      id: "HTTP-010",
      title: "nginx serves the static probe file (the site's CSS loads)",
      suite: "http",
      severity: "critical",
      smoke: true,
      expects:
        "GET staticPath (the static probe file, e.g. the admin's base.css) through nginx with the site's Host: 200, a Content-Type that fits " +
        "the file (text/css for .css; never an HTML page served in its place)",
      recommendation:
        "Let nginx's worker read STATIC_ROOT (every directory on the way needs o+x, or the worker's group: a home directory is 0700 " +
        "on Debian 12) and point the site's static location at it (`location /static/ { alias <STATIC_ROOT>/; }`), then `nginx -t && systemctl reload nginx`",
      dependsOn: ["SVC-013", "HTTP-011", "FS-004", "SVC-004"],
    },
    {
      skipIf: withoutNginx,
      async run(ctx) {
        const r = await fetchCached(ctx, ctx.config.nginxUrl as string, ctx.config.staticPath);
        const ext = ctx.config.staticPath.split(".").pop()?.toLowerCase() ?? "";
        if ("error" in r || r.status !== 200) return fail(`${summarize(ctx, r)}${await refusedHint(ctx, ctx.config.nginxUrl as string, [r])}`);
        const type = (r.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
        if (type === "text/html" && !["html", "htm"].includes(ext)) return fail(`${r.url}: 200 but an HTML page (Content-Type text/html), not the file`);
        return pass(`${r.url}: 200, ${type || "no Content-Type"}, ${r.bytes} bytes`);
      },
    },
  ),
  defineCheck(
    {
      id: "HTTP-011",
      reads: ["gunicorn-config"],
      title: "nginx takes connections at the site's address",
      suite: "http",
      severity: "critical",
      smoke: true,
      expects:
        "GET <first health path> at nginxUrl gets an HTTP answer, whatever its status; or, when no answer comes in time (nginx waiting " +
        "on its upstream, which HTTP-007 judges), a new connection there is accepted (over https: with a certificate that verifies for hostHeader)",
      recommendation:
        "Connection refused while nginx runs: no server block listens there (a site unlinked from /etc/nginx/sites-enabled/, a changed " +
        "listen): link the site back or fix its listen, then nginx -t && systemctl reload nginx. A certificate error over https: renew or " +
        "reissue it for hostHeader's name (certbot renew), reload nginx; signed by a private CA: run with NODE_EXTRA_CA_CERTS=<ca.pem>",
      dependsOn: ["SVC-013"],
    },
    {
      skipIf: withoutNginx,
      // The checks through nginx stand on this one: a site nginx does not serve shows once, here, not as their errors.
      async run(ctx) {
        const base = ctx.config.nginxUrl as string;
        const r = await fetchCached(ctx, base, (await healthPlan(ctx)).paths[0] as string);
        if (!("error" in r)) return pass(`${r.url}: HTTP ${r.status}`);
        // No answer in time is not "no nginx": a request proxied to a hung or crash-looping app waits on it.
        const refused = r.error.startsWith("no answer within") ? await connectError(ctx, base, tlsName(ctx.config.hostHeader)) : r.error;
        if (!refused) return pass(`${originOf(base)} accepts connections; ${summarize(ctx, r)} (an upstream's wait: HTTP-007's to judge)`);
        const err = { ...r, error: refused };
        return fail(`${summarize(ctx, err)}${await refusedHint(ctx, base, [err])}${tlsHint(ctx, refused)}`);
      },
    },
  ),
  defineCheck(
    {
      id: "HTTP-012",
      reads: ["gunicorn-config"],
      title: "The TLS certificate nginx serves is valid for every name and for weeks to come",
      suite: "http",
      severity: "high",
      expects:
        "when nginxUrl is https: for hostHeader and every literal server_name of the site's server blocks there (localhost, IP " +
        "addresses, wildcards and patterns aside), sent as SNI, a certificate whose chain verifies (Node's CAs plus NODE_EXTRA_CA_CERTS), " +
        "that covers the name, and that stays valid at least thresholds.certMinDays (14) days",
      recommendation:
        "Renew or reissue the certificate for every name the site serves (certbot renew, or certbot --nginx -d <each name>), then " +
        "systemctl reload nginx; check that the renewal timer runs (systemctl list-timers certbot.timer). A private CA: run with NODE_EXTRA_CA_CERTS=<ca.pem>",
      dependsOn: ["HTTP-011"],
    },
    {
      skipIf: (ctx) => withoutNginx(ctx) ?? (new URL(ctx.config.nginxUrl as string).protocol === "https:" ? undefined : "nginxUrl is http: no TLS to judge"),
      async run(ctx) {
        const base = ctx.config.nginxUrl as string;
        const [sites, ep] = await Promise.all([nginxSites(ctx), gunicornEndpoint(ctx)]);
        const { blocks } = siteBlocks(sites, ep, base, ctx.config.hostHeader);
        const literal = (n: string) => !skippedName(n) && certifiableName(n);
        const names = [...new Set([tlsName(ctx.config.hostHeader), ...blocks.flatMap((b) => b.names).filter(literal)])].filter((n): n is string => !!n);
        const looks = await Promise.all(names.map((n) => lookAtCertificate(ctx, base, n)));
        const minDays = ctx.config.thresholds.certMinDays;
        const problems: string[] = [];
        const seen: string[] = [];
        for (const l of looks) {
          if ("error" in l) problems.push(`${l.name}: no TLS handshake (${l.error})`);
          else {
            const days = l.validTo ? Math.floor((l.validTo.getTime() - Date.now()) / 86_400_000) : undefined;
            const until = l.validTo ? `${l.validTo.toISOString().slice(0, 10)}, ${days} days` : "no end date";
            if (l.nameError) problems.push(`${l.name}: not covered by the certificate nginx sends for it (it names ${l.names.join(", ") || "nothing"})`);
            else if (l.chainError) problems.push(`${l.name}: the chain does not verify (${l.chainError}; valid until ${until})`);
            else if (days === undefined || days < minDays)
              problems.push(`${l.name}: ${days !== undefined && days < 0 ? "expired" : "expires"} ${until} (at least ${minDays} wanted)`);
            else seen.push(`${l.name} (until ${until})`);
          }
        }
        return problems.length ? fail(ctx.clip(problems.join("; "), 1500)) : pass(`verified: ${seen.join(", ")}`);
      },
    },
  ),
  defineCheck(
    {
      id: "HTTP-008",
      title: "nginx serves every kind of collected static file",
      suite: "http",
      severity: "high",
      expects:
        "STATIC_ROOT listed once (find -type f, its own filesystem); for each file extension found, the first non-empty file in path order " +
        "is fetched through nginx at the static URL prefix (staticPath without staticProbeFile, e.g. /django_static/): 200, " +
        "a Content-Type that fits the extension (css text/css, js javascript, svg image/svg+xml, png image/png, woff/woff2/ttf/eot font types, " +
        "...; never text/html for a non-HTML file), and exactly the file's size in bytes; a listing that fails or has over 100000 files is an error",
      recommendation:
        "A regex location (location ~* \\.(png|svg|ico)$ ...) wins over the static prefix location: " +
        "mark the static one `location ^~ /django_static/ { alias <STATIC_ROOT>/; }` (^~ stops the regex search), " +
        "then nginx -t && systemctl reload nginx",
      dependsOn: ["SVC-013", "FS-004", "SVC-004", "HTTP-010"],
    },
    {
      skipIf: withoutNginx,
      async run(ctx) {
        const base = ctx.config.nginxUrl as string;
        const prefix = staticUrlPrefix(ctx.config);
        const sample = await staticSample(ctx);
        if (!sample.length) return fail(`no file with an extension under ${ctx.config.staticRoot}`);
        const rs = await Promise.all(sample.map((s) => fetchCached(ctx, base, urlUnder(prefix, s.rel))));
        const problems = sample.flatMap((s, i) => staticAnswerProblem(s, rs[i] as HttpResult) ?? []);
        if (problems.length) return fail(`${problems.length} of ${sample.length} kinds not served: ${problems.map((p) => ctx.clip(p, 200)).join("; ")}`);
        return pass(`${sample.length} kinds served by nginx under ${prefix} with a fitting type and the file's size: ${sample.map((s) => s.ext).join(", ")}`);
      },
    },
  ),
  defineCheck(
    {
      id: "HTTP-009",
      title: "Every name nginx serves for the site reaches Django",
      suite: "http",
      severity: "critical",
      smoke: true,
      expects:
        "nginx -T read once (the files themselves, following includes, when nginx -T refuses them); the server blocks reached through nginxUrl " +
        "whose proxy_pass/uwsgi_pass (an upstream resolved to its servers) goes where Gunicorn answers (else the block serving hostHeader); " +
        "GET the first health path (or where nginx redirects it) through nginxUrl with Host: each literal server_name of those blocks (wildcard, " +
        'regex, _ and "" skipped and named): no 400, and an answer of the same kind (status class, media type) as Host: hostHeader gets',
      recommendation:
        "A 400 means Django refuses a name nginx serves to visitors: add it to ALLOWED_HOSTS (or remove it from server_name), " +
        "then restart the service. A name that lands on another server block: " +
        "give it to one server block only (fix server_name), then nginx -t && systemctl reload nginx",
      dependsOn: ["HTTP-002"],
    },
    { skipIf: withoutNginx, run: servedNames },
  ),
];
