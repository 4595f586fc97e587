import { gunicornBase, gunicornEndpoint, listenBind } from "../probes/endpoint.ts";
import type { ProbeContext } from "../probes/context.ts";
import { deployIssues, djangoSettings } from "../probes/django.ts";
import { serviceEnv } from "../probes/environment.ts";
import { bindPort, gunicornSettings, isLocalAddress, serverName } from "../probes/gunicorn.ts";
import { healthPlan } from "../probes/health-plan.ts";
import { fetchCached, summarize, type HttpResponse } from "../probes/http.ts";
import { mediaAnswers } from "../probes/media.ts";
import { serviceIds, userDb } from "../probes/files.ts";
import { listenersOn, unitPids } from "../probes/process.ts";
import { secretLengths } from "../probes/secrets.ts";
import { PLACEHOLDERS } from "../probes/service-facts.ts";
import { securityExposure, serviceUnit, socketUnit } from "../probes/systemd.ts";
import { defineCheck, fail, nothingToJudge, pass, withoutNginx, type Verdict } from "./define.ts";

// What SEC-001/002/003 judge: Django's own answer, or (Django could not start) the environment variable, or an error
// when the variable is unset: the settings module may default it to anything, and we could not ask it.
async function settingOrEnv(
  ctx: ProbeContext,
  name: string,
  fromDjango: (s: Awaited<ReturnType<typeof djangoSettings>> & { ok: true }) => Verdict,
  fromEnv: (v: string, where: string) => Verdict,
): Promise<Verdict> {
  const d = await djangoSettings(ctx);
  if (d.ok) return fromDjango(d);
  const { env, source } = await serviceEnv(ctx);
  const v = env[name];
  if (v === undefined) throw new Error(`could not tell: ${d.why}; and ${name} is not set in ${source}`);
  return fromEnv(v, `environment variable in ${source}; ${d.why}`);
}

// SECRET_KEY's properties judged; the key itself never appears.
function judgeKey(k: { set: boolean; length: number; distinct: number; placeholder: string | null }, where: string): Verdict {
  if (!k.set) return fail(`SECRET_KEY is empty (${where})`);
  if (k.placeholder) return fail(`SECRET_KEY contains the placeholder text "${k.placeholder}" (${where})`);
  const s = `SECRET_KEY: ${k.length} characters, ${k.distinct} distinct (${where})`;
  return k.length >= 50 && k.distinct >= 5 ? pass(s) : fail(s);
}

function judgeHosts(hosts: string[], where: string): Verdict {
  if (!hosts.length) return fail(`ALLOWED_HOSTS is empty (${where}): with DEBUG off Django refuses every request`);
  const s = `ALLOWED_HOSTS=${hosts.join(",")} (${where})`;
  return hosts.includes("*") ? fail(s) : pass(s);
}

// A git HEAD file: a symbolic ref, or the commit id of a detached checkout (SHA-1 or SHA-256 repositories).
export const GIT_HEAD = /^(ref: \S+|[0-9a-f]{40}|[0-9a-f]{64})\s*$/m;

// The security headers an answer lacks: X-Content-Type-Options nosniff first, then X-Frame-Options DENY/SAMEORIGIN.
export function missingSecurityHeaders(headers: Record<string, string>): string[] {
  const want: Array<[string, RegExp]> = [
    ["x-content-type-options", /nosniff/i],
    ["x-frame-options", /deny|sameorigin/i],
  ];
  return want.filter(([h, re]) => !re.test(headers[h] ?? "")).map(([h]) => h);
}

export const securityChecks = [
  defineCheck(
    {
      id: "SEC-001",
      title: "DEBUG is off",
      suite: "security",
      severity: "critical",
      smoke: true,
      expects:
        "settings.DEBUG is False as Django itself loads the settings (as the unit's user, with the service's environment); " +
        "if Django cannot start: the DEBUG environment variable is false, 0, no, off or empty (unset: error, we cannot tell)",
      recommendation: "Set DEBUG=False in the env file and restart the service; DEBUG pages leak settings and source",
      fixId: "set-debug-false",
    },
    {
      async run(ctx) {
        return settingOrEnv(
          ctx,
          "DEBUG",
          (d) => (d.settings.DEBUG ? fail : pass)(`DEBUG=${d.settings.DEBUG ? "True" : "False"} in ${d.source}`),
          (v, where) => (/^(false|0|no|off|)$/i.test(v.trim()) ? pass : fail)(`DEBUG=${v} (${where})`),
        );
      },
    },
  ),
  defineCheck(
    {
      id: "SEC-002",
      title: "SECRET_KEY is long, random and not a placeholder",
      suite: "security",
      severity: "critical",
      smoke: true,
      expects:
        "settings.SECRET_KEY as Django loads it (else, if Django cannot start, the SECRET_KEY environment variable; unset: error) " +
        "is non-empty, at least 50 characters, at least 5 distinct characters, and contains none of the known placeholder texts",
      recommendation: "Generate a key (python3 -c 'import secrets; print(secrets.token_urlsafe(50))'), put it in the env file, restart",
      fixId: "rotate-secret-key",
      // With no source for SECRET_KEY the app runs on its built-in fallback: SVC-018 names that root cause.
      dependsOn: ["SVC-018"],
    },
    {
      async run(ctx) {
        // Never echo the key itself: only its properties.
        return settingOrEnv(
          ctx,
          "SECRET_KEY",
          (d) => judgeKey(d.settings.SECRET_KEY, d.source),
          (k, where) =>
            judgeKey(
              { set: k !== "", length: k.length, distinct: new Set(k).size, placeholder: PLACEHOLDERS.find((p) => k.toLowerCase().includes(p)) ?? null },
              where,
            ),
        );
      },
    },
  ),
  defineCheck(
    {
      id: "SEC-003",
      title: "ALLOWED_HOSTS is an explicit list",
      suite: "security",
      severity: "high",
      expects:
        "settings.ALLOWED_HOSTS as Django loads it (else, if Django cannot start, " +
        "the comma-separated ALLOWED_HOSTS environment variable; unset: error) is non-empty and contains no '*'",
      recommendation: "Set ALLOWED_HOSTS to your hostnames (and localhost for local probes) in the env file, then restart",
      fixId: "fix-allowed-hosts",
    },
    {
      async run(ctx) {
        return settingOrEnv(
          ctx,
          "ALLOWED_HOSTS",
          (d) => judgeHosts(d.settings.ALLOWED_HOSTS, d.source),
          (v, where) =>
            judgeHosts(
              v
                .split(",")
                .map((h) => h.trim())
                .filter(Boolean),
              where,
            ),
        );
      },
    },
  ),
  defineCheck(
    {
      id: "SEC-004",
      title: "Static and uploaded media responses carry security headers",
      suite: "security",
      severity: "medium",
      expects:
        "through nginx, with X-Content-Type-Options containing nosniff and X-Frame-Options containing DENY or SAMEORIGIN: " +
        "(1) the GET of the configured static file (staticPath); (2) for user-uploaded media under /media/ (MEDIA_ROOT " +
        "taken as <WorkingDirectory>/media): the GET of each sampled upload (one per extension, at most 5) " +
        "that nginx answers 200; when it serves none (no uploads yet), its answer, whatever the status, " +
        "for the missing upload /media/ddv-no-such-upload (headers set with `always` show there; a location's own add_header drops the server's)",
      recommendation:
        "add_header X-Content-Type-Options nosniff always; add_header X-Frame-Options DENY always; in the nginx server block, and repeat " +
        "both in every location that has an add_header of its own (/django_static/, /media/): nginx drops the server's add_header lines there",
      dependsOn: ["SVC-013", "FS-004", "HTTP-010"],
    },
    {
      skipIf: withoutNginx,
      async run(ctx) {
        const base = ctx.config.nginxUrl as string;
        const [r, media] = await Promise.all([fetchCached(ctx, base, ctx.config.staticPath), mediaAnswers(ctx, base)]);
        if ("error" in r) throw new Error(summarize(ctx, r));
        const upload = media.judged.some((m) => m.status === 200);
        const why = media.sample.files.length ? `no sampled upload answered 200: ${media.unserved.join(", ")}` : `no upload under ${media.sample.root}`;
        const what = (m: HttpResponse) => (upload ? `upload ${new URL(m.url).pathname}` : `${new URL(m.url).pathname} (HTTP ${m.status}; ${why})`);
        const answers = [{ label: `static ${new URL(r.url).pathname}`, r }, ...media.judged.map((m) => ({ label: `media ${what(m)}`, r: m }))];
        const bad = answers.map((a) => ({ ...a, missing: missingSecurityHeaders(a.r.headers) })).filter((a) => a.missing.length);
        if (bad.length) return fail(bad.map((a) => `${a.label} lacks ${a.missing.join(", ")}`).join("; "));
        return pass(answers.map((a) => `${a.label}: nosniff, X-Frame-Options ${a.r.headers["x-frame-options"]}`).join("; "));
      },
    },
  ),
  defineCheck(
    {
      id: "SEC-005",
      reads: ["gunicorn-config"],
      title: "The Server header does not leak a version",
      suite: "security",
      severity: "low",
      expects: "the Server header of GET <first health path> through Gunicorn and through nginx contains no version number (digits.digits)",
      recommendation: "server_tokens off; in nginx's http or server block, then reload",
      dependsOn: ["HTTP-001", "SVC-013", "HTTP-011"],
    },
    {
      async run(ctx) {
        const bases = [await gunicornBase(ctx), ...(withoutNginx(ctx) ? [] : [ctx.config.nginxUrl as string])];
        const first = (await healthPlan(ctx)).paths[0] as string;
        const rs = await Promise.all(bases.map((b) => fetchCached(ctx, b, first)));
        const lost = rs.find((r) => "error" in r);
        if (lost) throw new Error(summarize(ctx, lost));
        const leaks = rs
          .filter((r) => !("error" in r) && /\d+\.\d+/.test(r.headers.server ?? ""))
          .map((r) => `${r.url}: Server: ${"headers" in r ? r.headers.server : ""}`);
        const seen = rs.map((r) => ("headers" in r ? r.headers.server || "(none)" : r.error)).join(", ");
        return leaks.length ? fail(leaks.join("; ")) : pass(`Server: ${seen}`);
      },
    },
  ),
  defineCheck(
    {
      id: "SEC-006",
      title: "/.env and /.git/ are not served",
      suite: "security",
      severity: "critical",
      smoke: true,
      expects:
        "through nginx, /.env does not answer 200 with a KEY=value line, " +
        "and /.git/HEAD does not answer 200 with a git HEAD (a `ref: ` line or a bare 40/64-hex commit id of a detached checkout)",
      recommendation: "Add `location ~ /\\. { return 404; }` to the nginx site and remove dotfiles from the web root",
      dependsOn: ["SVC-013", "HTTP-011"],
    },
    {
      skipIf: withoutNginx,
      async run(ctx) {
        const base = ctx.config.nginxUrl as string;
        const [env, git] = await Promise.all([fetchCached(ctx, base, "/.env"), fetchCached(ctx, base, "/.git/HEAD")]);
        if ("error" in env || "error" in git) throw new Error(`${summarize(ctx, env)}; ${summarize(ctx, git)}`);
        // A 200 SPA fallback page is harmless; only real env or git content is a leak.
        const leaks = [
          env.status === 200 && /^[A-Z_][A-Z0-9_]*=/m.test(env.body) ? `${env.url} serves KEY=value lines` : "",
          git.status === 200 && GIT_HEAD.test(git.body) ? `${git.url} serves a git HEAD` : "",
        ].filter(Boolean);
        return leaks.length ? fail(leaks.join("; ")) : pass(`/.env ${env.status}, /.git/HEAD ${git.status}, no secrets in either`);
      },
    },
  ),
  defineCheck(
    {
      id: "SEC-007",
      reads: ["gunicorn-config"],
      fixId: "unit-dropin",
      title: "Gunicorn is bound to loopback or a unix socket",
      suite: "security",
      severity: "high",
      expects:
        "every bind in Gunicorn's effective config (as its own config loader resolves command line, GUNICORN_CMD_ARGS and config file) " +
        "is loopback (127.0.0.0/8, ::1, localhost) or a unix socket, and every TCP listener of the unit's processes on the Gunicorn " +
        "URL's port or a bound port is on a loopback address; a listener on those ports whose owning process cannot be read is an error",
      recommendation: "Use --bind 127.0.0.1:8000 (or unix:/run/<service>.sock) and let nginx face the network",
      dependsOn: ["SVC-016", "SVC-003"],
    },
    {
      async run(ctx) {
        const [gs, sock] = await Promise.all([gunicornSettings(ctx), socketUnit(ctx)]);
        // Under socket activation Gunicorn serves the sockets systemd hands it and ignores --bind: judge those.
        const g = sock
          ? {
              ...gs,
              bind: sock.listen.filter((l) => l.type === "Stream").map((l) => listenBind(l.address)),
              source: `ListenStream of ${sock.id}; Gunicorn takes its sockets from systemd and ignores --bind`,
            }
          : gs;
        const open = g.bind.filter((b) => !isLocalAddress(b) && !b.startsWith("fd://"));
        if (open.length) return fail(`${serverName(g)} binds ${open.join(", ")}: reachable from other hosts (read by ${g.source})`);
        const ep = await gunicornEndpoint(ctx);
        const ports = [...new Set([...(ep.port ? [ep.port] : []), ...g.bind.map(bindPort).filter((p): p is number => p !== undefined)])];
        const [pids, unit, listeners] = await Promise.all([unitPids(ctx), serviceUnit(ctx), Promise.all(ports.map((p) => listenersOn(ctx, p)))]);
        const all = listeners.flat();
        const unknown = all.find((l) => l.pid === undefined);
        if (unknown) throw new Error(`cannot tell which process holds ${unknown.address}:${unknown.port} (no permission to read /proc/<pid>/fd?)`);
        const mine = new Set([...pids, unit.mainPid]);
        const own = all.filter((l) => mine.has(l.pid as number));
        const exposed = own.filter((l) => !isLocalAddress(l.address));
        if (exposed.length)
          return fail(
            `the unit listens on ${exposed.map((l) => `${l.address}:${l.port}`).join(", ")} (${serverName(g)} binds ${g.bind.join(", ")}, read by ${g.source})`,
          );
        const seen = own.map((l) => `${l.address}:${l.port}`).join(", ") || `no TCP port of ${ports.join(", ")}`;
        return pass(`${serverName(g)} binds ${g.bind.join(", ")} (read by ${g.source}); the unit listens on ${seen}`);
      },
    },
  ),
  defineCheck(
    {
      id: "SEC-008",
      fixId: "unit-dropin",
      title: "The service does not run as root",
      suite: "security",
      severity: "critical",
      smoke: true,
      expects: "the unit's User= is set and resolves to a uid other than 0 (any name for uid 0 counts as root), and the running process's uid is not 0",
      recommendation: "Set User=<service user> and Group=www-data in the unit, fix ownership of its paths, daemon-reload, restart",
      dependsOn: ["SVC-016"],
    },
    {
      async run(ctx) {
        const u = await serviceUnit(ctx);
        if (!u.user) return fail("User= is unset: the service runs as root");
        const db = await userDb(ctx);
        const uid = /^\d+$/.test(u.user) ? Number(u.user) : db.users.get(u.user)?.uid;
        if (uid === 0) return fail(`User=${u.user} is uid 0: root by another name`);
        // A name /etc/passwd does not know may come from NSS or DynamicUser=: the running process says what it is.
        const ids = await serviceIds(ctx).catch(() => undefined);
        if (ids?.uid === 0) return fail(`User=${u.user}, but ${ids.basis}: it runs as root`);
        if (uid === undefined && !ids)
          throw new Error(`User=${u.user} is not in /etc/passwd and the service's process credentials could not be read: its uid is unknown`);
        const seen = uid === undefined ? `uid ${ids?.uid} (${ids?.basis})` : `uid ${uid}`;
        return pass(`User=${u.user} (${seen}) Group=${u.group}`);
      },
    },
  ),
  defineCheck(
    {
      id: "SEC-009",
      title: "systemd sandboxing keeps the exposure score low",
      suite: "security",
      severity: "medium",
      expects: "the overall exposure level printed by `systemd-analyze security <service>` is at or under thresholds.securityExposure",
      recommendation: "Add NoNewPrivileges, ProtectSystem=strict, ProtectHome, PrivateTmp, CapabilityBoundingSet= and friends to the unit",
      dependsOn: ["SEC-008"],
    },
    {
      async run(ctx) {
        const s = await securityExposure(ctx);
        const limit = ctx.config.thresholds.securityExposure;
        const text = `exposure ${s.score} (limit ${limit})`;
        return s.score <= limit ? pass(text) : fail(`${text}; worst: ${s.worst.slice(0, 3).join("; ")}`);
      },
    },
  ),
  defineCheck(
    {
      id: "SEC-010",
      reads: ["check-deploy"],
      title: "manage.py check --deploy is clean at the configured level",
      suite: "security",
      severity: "high",
      expects:
        "`check --deploy` (run by Django in the one Python start as the unit's user, with the service's environment) " +
        "reports no unsilenced issue at or above thresholds.checkDeployFailLevel, except IDs in thresholds.checkDeployIgnore",
      recommendation: "Fix each issue Django names (see its ID in the Django docs), or list it in thresholds.checkDeployIgnore with a reason",
      dependsOn: ["SEC-001", "SEC-002", "SEC-003", "SVC-003", "FS-001"],
    },
    {
      async run(ctx) {
        const d = await deployIssues(ctx);
        const { checkDeployFailLevel: level, checkDeployIgnore: ignore } = ctx.config.thresholds;
        const rank = { DEBUG: -1, INFO: 0, WARNING: 1, ERROR: 2, CRITICAL: 3 } as Record<string, number>;
        const bad = d.issues.filter((i) => (rank[i.level] ?? 0) >= (rank[level] ?? 2) && !ignore.includes(i.id ?? ""));
        const all = d.issues.map((i) => i.id ?? `(${i.level} without ID)`).join(", ") || "none";
        return bad.length
          ? fail(bad.map((i) => `${i.id ?? "(no ID)"} ${i.msg}`).join("; "))
          : pass(`issues: ${all}; none at ${level} or above${ignore.length ? ` outside ${ignore.join(", ")}` : ""}`);
      },
    },
  ),
  defineCheck(
    {
      id: "SEC-011",
      title: "Every secret is long enough to be masked in reports",
      suite: "security",
      severity: "medium",
      expects:
        "no variable the config names a secret (config.secrets) has a non-empty value shorter " +
        "than secrets.minLength characters, in the running environment or the unit's env files",
      recommendation:
        "Give each listed variable a long random value (a short password is weak, " +
        "and reports cannot hide it without shredding other text), then restart the service",
    },
    {
      async run(ctx) {
        const f = await secretLengths(ctx);
        const min = ctx.config.secrets.minLength;
        // Names only: the value is exactly what cannot be masked.
        if (f.tooShort.length) return fail(`${f.tooShort.join(", ")} shorter than ${min} characters: reports cannot mask it`);
        // No secret at all in what was read (settings written into settings.py, say): nothing judged, so no pass.
        if (!f.masked) return nothingToJudge(`no variable named as a secret (config.secrets) is set in ${f.sources.join("; ")}: no length to judge`);
        return pass(`every secret is at least ${min} characters (${f.masked} found in ${f.sources.join("; ")})`);
      },
    },
  ),
];
