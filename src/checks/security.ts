import { deployCheck } from "../probes/django.ts";
import { serviceEnv } from "../probes/environment.ts";
import { fetchCached, summarize } from "../probes/http.ts";
import { listenersOn, unitPids, urlPort } from "../probes/process.ts";
import { execOption, securityExposure, serviceUnit } from "../probes/systemd.ts";
import { defineCheck, fail, pass, withoutNginx } from "./define.ts";


// Placeholders seen in templates and docs; a key starting with one of these is not a secret.
const PLACEHOLDERS = ["django-insecure-", "your-super-secret", "change-me", "changeme", "secret-key", "your-secret-key", "dev-key"];

export const securityChecks = [
  defineCheck(
    {
      id: "SEC-001",
      title: "DEBUG is off",
      suite: "security",
      severity: "critical",
      smoke: true,
      expects: "DEBUG unset or false in the service's environment",
      recommendation: "Set DEBUG=False in the env file and restart the service; DEBUG pages leak settings and source",
      fixId: "set-debug-false",
    },
    {
      async run(ctx) {
        const { env, source } = await serviceEnv(ctx);
        const v = env.DEBUG;
        return v === undefined || /^(false|0|no|off|)$/i.test(v.trim()) ? pass(`DEBUG=${v ?? "unset"} in ${source}`) : fail(`DEBUG=${v} in ${source}`);
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
      expects: "SECRET_KEY set, at least 50 characters, at least 5 distinct characters, not a known placeholder",
      recommendation: "Generate a key (python3 -c 'import secrets; print(secrets.token_urlsafe(50))'), put it in the env file, restart",
      fixId: "rotate-secret-key",
    },
    {
      async run(ctx) {
        const { env, source } = await serviceEnv(ctx);
        const k = env.SECRET_KEY;
        // Never echo the key itself: only its properties.
        if (!k) return fail(`SECRET_KEY is not set in ${source}: the settings fall back to their built-in placeholder`);
        const low = k.toLowerCase();
        const placeholder = PLACEHOLDERS.find((p) => low.includes(p));
        const distinct = new Set(k).size;
        if (placeholder) return fail(`SECRET_KEY contains the placeholder text "${placeholder}"`);
        if (k.length < 50 || distinct < 5) return fail(`SECRET_KEY is ${k.length} characters with ${distinct} distinct`);
        return pass(`SECRET_KEY: ${k.length} characters, ${distinct} distinct`);
      },
    },
  ),
  defineCheck(
    {
      id: "SEC-003",
      title: "ALLOWED_HOSTS is an explicit list",
      suite: "security",
      severity: "high",
      expects: "ALLOWED_HOSTS set and without '*'",
      recommendation: "Set ALLOWED_HOSTS to your hostnames (and localhost for local probes) in the env file, then restart",
      fixId: "fix-allowed-hosts",
    },
    {
      async run(ctx) {
        const { env } = await serviceEnv(ctx);
        const hosts = (env.ALLOWED_HOSTS ?? "").split(",").map((h) => h.trim()).filter(Boolean);
        if (!hosts.length) return fail("ALLOWED_HOSTS is not set: the settings default applies");
        return hosts.includes("*") ? fail(`ALLOWED_HOSTS=${hosts.join(",")}`) : pass(`ALLOWED_HOSTS=${hosts.join(",")}`);
      },
    },
  ),
  defineCheck(
    {
      id: "SEC-004",
      title: "Responses carry security headers",
      suite: "security",
      severity: "medium",
      expects: "X-Content-Type-Options: nosniff and X-Frame-Options on nginx-served responses (static files included)",
      recommendation: "add_header X-Content-Type-Options nosniff always; add_header X-Frame-Options DENY always; in the nginx server block",
      dependsOn: ["SVC-013", "FS-004"],
    },
    {
      skipIf: withoutNginx,
      async run(ctx) {
        const r = await fetchCached(ctx, ctx.config.nginxUrl as string, ctx.config.staticPath);
        if ("error" in r) throw new Error(summarize(ctx, r));
        const missing = [["x-content-type-options", /nosniff/i], ["x-frame-options", /deny|sameorigin/i]].filter(([h, re]) => !(re as RegExp).test(r.headers[h as string] ?? "")).map(([h]) => h);
        return missing.length ? fail(`${r.url} lacks ${missing.join(", ")}`) : pass(`${r.url}: nosniff, X-Frame-Options ${r.headers["x-frame-options"]}`);
      },
    },
  ),
  defineCheck(
    {
      id: "SEC-005",
      title: "The Server header does not leak a version",
      suite: "security",
      severity: "low",
      expects: "no version number in the Server header through nginx or Gunicorn",
      recommendation: "server_tokens off; in nginx's http or server block, then reload",
      dependsOn: ["HTTP-001", "SVC-013"],
    },
    {
      async run(ctx) {
        const bases = [ctx.config.gunicornUrl, ...(withoutNginx(ctx) ? [] : [ctx.config.nginxUrl as string])];
        const rs = await Promise.all(bases.map((b) => fetchCached(ctx, b, ctx.config.healthPaths[0] as string)));
        const lost = rs.find((r) => "error" in r);
        if (lost) throw new Error(summarize(ctx, lost));
        const leaks = rs.filter((r) => !("error" in r) && /\d+\.\d+/.test(r.headers.server ?? "")).map((r) => `${r.url}: Server: ${"headers" in r ? r.headers.server : ""}`);
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
      expects: "no env-file or git content at /.env and /.git/HEAD through nginx",
      recommendation: "Add `location ~ /\\. { return 404; }` to the nginx site and remove dotfiles from the web root",
      dependsOn: ["SVC-013"],
    },
    {
      skipIf: withoutNginx,
      async run(ctx) {
        const base = ctx.config.nginxUrl as string;
        const [env, git] = await Promise.all([fetchCached(ctx, base, "/.env"), fetchCached(ctx, base, "/.git/HEAD")]);
        if ("error" in env || "error" in git) throw new Error(`${summarize(ctx, env)}; ${summarize(ctx, git)}`);
        // A 200 SPA fallback page is harmless; only real env or git content is a leak.
        const leaks = [env.status === 200 && /^[A-Z_][A-Z0-9_]*=/m.test(env.body) ? `${env.url} serves KEY=value lines` : "", git.status === 200 && /^ref: /m.test(git.body) ? `${git.url} serves a git ref` : ""].filter(Boolean);
        return leaks.length ? fail(leaks.join("; ")) : pass(`/.env ${env.status}, /.git/HEAD ${git.status}, no secrets in either`);
      },
    },
  ),
  defineCheck(
    {
      id: "SEC-007",
      title: "Gunicorn is bound to loopback or a unix socket",
      suite: "security",
      severity: "high",
      expects: "--bind in ExecStart, and every address the unit listens on, is loopback (127.0.0.1, ::1, localhost) or a unix socket",
      recommendation: "Use --bind 127.0.0.1:8000 (or unix:/run/<service>.sock) and let nginx face the network",
      dependsOn: ["SVC-016"],
    },
    {
      async run(ctx) {
        const u = await serviceUnit(ctx);
        const bind = execOption(u, "--bind") ?? execOption(u, "-b");
        const loopback = (a: string) => /^(unix:|127\.|localhost(:|$)|\[::1\]|\[(0:){7}1\]|\[(0:){5}ffff:7f)/.test(a);
        if (bind && !loopback(bind)) return fail(`--bind ${bind} accepts connections from other hosts`);
        // Without --bind in ExecStart (config file, GUNICORN_CMD_ARGS, $PORT), judge what really listens.
        const pids = new Set(await unitPids(ctx));
        const own = (await listenersOn(ctx, urlPort(ctx.config.gunicornUrl))).filter((l) => l.pid !== undefined && pids.has(l.pid));
        const open = own.filter((l) => !loopback(l.address));
        if (open.length) return fail(`the unit listens on ${open.map((l) => `${l.address}:${l.port}`).join(", ")}`);
        return pass(`--bind ${bind ?? "(not in ExecStart)"}; listening on ${own.map((l) => `${l.address}:${l.port}`).join(", ") || "no TCP port of the Gunicorn URL"}`);
      },
    },
  ),
  defineCheck(
    {
      id: "SEC-008",
      title: "The service does not run as root",
      suite: "security",
      severity: "critical",
      smoke: true,
      expects: "User= set to an unprivileged account",
      recommendation: "Set User=<service user> and Group=www-data in the unit, fix ownership of its paths, daemon-reload, restart",
      dependsOn: ["SVC-016"],
    },
    {
      async run(ctx) {
        const u = await serviceUnit(ctx);
        return u.user && u.user !== "root" && u.user !== "0" ? pass(`User=${u.user} Group=${u.group}`) : fail(`User=${u.user || "(unset: root)"}`);
      },
    },
  ),
  defineCheck(
    {
      id: "SEC-009",
      title: "systemd sandboxing keeps the exposure score low",
      suite: "security",
      severity: "medium",
      expects: "`systemd-analyze security` overall exposure at or under the configured threshold",
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
      title: "manage.py check --deploy is clean at the configured level",
      suite: "security",
      severity: "high",
      expects: "no check --deploy issue at or above the configured level, except those ignored in the config",
      recommendation: "Fix each issue Django names (see its ID in the Django docs), or list it in thresholds.checkDeployIgnore with a reason",
      dependsOn: ["SEC-001", "SEC-002", "SEC-003", "SVC-003", "FS-001"],
    },
    {
      async run(ctx) {
        const d = await deployCheck(ctx);
        const { checkDeployFailLevel: level, checkDeployIgnore: ignore } = ctx.config.thresholds;
        const rank = { INFO: 0, WARNING: 1, ERROR: 2, CRITICAL: 3 } as Record<string, number>;
        const bad = d.issues.filter((i) => (rank[i.level] ?? 0) >= (rank[level] ?? 2) && !ignore.includes(i.id));
        if (d.exitCode !== 0 && d.issues.length === 0) throw new Error(`check --deploy could not run: ${d.output}`);
        const all = d.issues.map((i) => i.id).join(", ") || "none";
        return bad.length ? fail(bad.map((i) => `${i.id} ${i.text}`).join("; ")) : pass(`issues: ${all}; none at ${level} or above`);
      },
    },
  ),
];
