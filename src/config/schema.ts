import { z } from "zod";

const absolute = z.string().startsWith("/", "must be an absolute path");
// Gunicorn's address: an http URL, or a unix socket as Gunicorn's --bind writes it.
const gunicornAddress = z.string().refine((v) => /^unix:\/\S+$/.test(v) || (URL.canParse(v) && /^https?:$/.test(new URL(v).protocol)), {
  error: "must be an http URL such as http://127.0.0.1:8000, or a unix socket such as unix:/run/gunicorn.sock",
});
const httpUrl = z.url({ protocol: /^https?$/, error: "must be an http(s) URL such as http://127.0.0.1:8000" });

// Which environment variables hold secrets, to mask their values in every report. A name matches when it equals one
// of `names` or ends with one of `suffixes` (case-insensitive); the password of any URL-valued variable is always a
// secret. Setting a list replaces its defaults. Values shorter than `minLength` characters are not masked (masking
// "abc" would shred ordinary text): they are reported by name instead, for a check to flag.
export const SecretRulesSchema = z
  .object({
    names: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name")).default(["SECRET_KEY", "PASSWORD", "PGPASSWORD"]),
    suffixes: z.array(z.string().min(2)).default(["_PASSWORD", "_PASSWD", "_PASS", "_SECRET", "_TOKEN", "_KEY"]),
    minLength: z.number().int().min(1).default(8),
  })
  .strict();

export type SecretRules = z.infer<typeof SecretRulesSchema>;

export const SEVERITIES = ["critical", "high", "medium", "low"] as const;

// An accepted finding, as InSpec waives a control: the failure shows as "waived" (never hidden) until `expires`
// (a date, inclusive), then fails loudly. `host` limits it to one host name.
export const WaiverSchema = z
  .object({
    id: z.string().regex(/^(SVC|HTTP|DB|FS|SEC|PERF)-\d{3}$/, "must be a check ID such as SEC-005"),
    reason: z.string().min(10, "say why the finding is accepted (at least 10 characters)"),
    expires: z.iso.date("must be a date such as 2027-01-31"),
    host: z.string().min(1).optional(),
  })
  .strict();

export type Waiver = z.infer<typeof WaiverSchema>;

// One deployment target. Defaults describe a ProjectMeats server, so zero configuration works there.
// User, group, working directory, env files and bind are read from the unit itself at run time.
export const ConfigSchema = z
  .object({
    service: z
      .string()
      .regex(/^[\w@.-]+$/, "must be a systemd unit name without spaces")
      .default("projectmeats"),
    projectDir: absolute.default("/opt/projectmeats"),
    venvDir: absolute.default("/opt/projectmeats/venv"),
    settingsModule: z.string().default("apps.settings.production"),
    // Used only when the unit names no EnvironmentFile and the service is not running.
    envFiles: z.array(absolute).default(["/etc/projectmeats/projectmeats.env"]),
    // Where Gunicorn answers: http://host:port or unix:/run/x.sock. Unset: the socket unit that starts the service,
    // else Gunicorn's own bind (as its config loader reads it), else its default 127.0.0.1:8000.
    gunicornUrl: gunicornAddress.optional(),
    // null: this host has no nginx in front of Gunicorn; nginx checks are skipped with that reason.
    nginxUrl: httpUrl.nullable().default("http://127.0.0.1"),
    hostHeader: z.string().min(1).default("localhost"),
    // Unset: asked of the app (src/probes/health-plan.ts): the known health paths, else the admin login, else /.
    healthPaths: z.array(z.string().startsWith("/")).min(1).optional(),
    adminLoginPath: z.string().startsWith("/").default("/admin/login/"),
    // null: the app has no API; HTTP-004 is skipped with that reason.
    apiPath: z.string().startsWith("/").nullable().default("/api/v1/suppliers/"),
    // What a health path must answer: `status`, and a JSON body {"status":"healthy"} (json), or a body matching
    // `bodyMatch` (a regular expression), or the status alone (json false, no bodyMatch: an admin login page).
    health: z
      .object({
        status: z.number().int().min(100).max(599).default(200),
        json: z.boolean().default(true),
        bodyMatch: z
          .string()
          .refine((v) => {
            try {
              new RegExp(v);
              return true;
            } catch {
              return false;
            }
          }, "must be a JavaScript regular expression")
          .optional(),
      })
      .strict()
      .prefault({}),
    staticPath: z.string().startsWith("/").default("/django_static/admin/css/base.css"),
    // A static file Django's collectstatic always writes, relative to STATIC_ROOT.
    staticProbeFile: z.string().default("admin/css/base.css"),
    staticRoot: absolute.default("/opt/projectmeats/backend/staticfiles"),
    // null: the app logs to the journal only (FS-002 is skipped; files the app does write are FS-007's).
    logDir: absolute.nullable().default("/var/log/projectmeats"),
    secrets: SecretRulesSchema.prefault({}),
    // Failures of checks below this severity are reported but do not turn the run red.
    // high by default: medium and low findings are hardening advice, shown in every report, never hidden.
    failOn: z.enum(SEVERITIES).default("high"),
    // Accepted findings; `waiversFile` (relative to the config file) adds the waivers it holds (a JSON array).
    waivers: z.array(WaiverSchema).default([]),
    waiversFile: z.string().min(1).optional(),
    dependencies: z.object({ postgresql: z.string().default("postgresql"), nginx: z.string().nullable().default("nginx") }).prefault({}),
    timeouts: z
      .object({
        commandMs: z.number().int().positive().default(10_000),
        httpMs: z.number().int().positive().default(3_000),
        dbMs: z.number().int().positive().default(3_000),
      })
      .prefault({}),
    thresholds: z
      .object({
        maxRestarts: z.number().int().nonnegative().default(0),
        // After more than maxRestarts automatic restarts, how long the current run must last to count as recovered.
        steadySeconds: z.number().positive().default(30),
        // How long SVC-003 watches a younger run before judging it (0: judge at once, as not yet steady): one transient
        // failure that recovered then passes, and a loop shows itself by ending again.
        crashWatchSeconds: z.number().nonnegative().default(30),
        securityExposure: z.number().min(0).max(10).default(5.0),
        // HTTP-012: a certificate nginx serves must stay valid at least this many days (certbot renews at 30 left).
        certMinDays: z.number().nonnegative().default(14),
        checkDeployFailLevel: z.enum(["ERROR", "WARNING"]).default("ERROR"),
        checkDeployIgnore: z.array(z.string()).default([]),
        minConnectionHeadroom: z.number().int().nonnegative().default(5),
        loadRequests: z.number().int().positive().default(200),
        loadConcurrency: z.number().int().positive().default(8),
        loadMaxSeconds: z.number().positive().default(4),
        p95Ms: z.number().positive().default(250),
        p99Ms: z.number().positive().default(600),
        maxErrorRate: z.number().min(0).max(1).default(0),
        maxRssMb: z.number().positive().default(500),
      })
      .prefault({}),
    remediation: z
      .object({
        // A report older than this is refused (`--force-stale` overrides): the host may have changed since.
        maxReportAgeMinutes: z.number().positive().default(60),
        // How long a restart may take to turn the service's smoke checks green.
        restartWaitSeconds: z.number().positive().default(60),
      })
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;
