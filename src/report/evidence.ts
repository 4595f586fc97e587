import { DEFAULT_GUNICORN_URL, gunicornEndpoint } from "../probes/endpoint.ts";
import { STATUS_CODES } from "node:http";
import type { Check } from "../checks/define.ts";
import type { Config } from "../config/schema.ts";
import type { ProbeContext } from "../probes/context.ts";
import { healthPlan, KNOWN_HEALTH_PATHS } from "../probes/health-plan.ts";
import { fetchCached, type HttpResult } from "../probes/http.ts";
import { redact } from "../probes/redact.ts";
import { serviceFacts } from "../probes/service-facts.ts";
import { currentJournal, unitName } from "../probes/systemd.ts";

// Each attachment stays small: an auditor reads it, a report stays light.
export const ATTACHMENT_MAX_BYTES = 16 * 1024;

// One piece of evidence for a failed or errored check, as a text attachment.
export type Evidence = { name: string; text: string };

type Request = { base: string; path: string; method?: "GET" | "HEAD"; host?: string };

// What a failure is explained by: these are read from the same memoised probes the check used where possible.
export type EvidenceKind =
  | { kind: "journal" }
  | { kind: "unit"; unit: string }
  | { kind: "status"; unit: string }
  | { kind: "http"; requests: Request[] }
  | { kind: "command"; argv: string[] }
  | { kind: "django"; part: "check" | "migrations" };

// Checks judging the running Django service: its journal since the current start says why it is not well.
const JOURNAL = new Set(["SVC-001", "SVC-003", "SVC-011", "SVC-015", "SVC-017", "SVC-018", "HTTP-001", "HTTP-003", "HTTP-004"]);
// Checks judging the Django unit's definition: `systemctl cat` shows the unit file and every drop-in.
const UNIT = new Set([
  "SVC-001",
  "SVC-002",
  "SVC-003",
  "SVC-004",
  "SVC-005",
  "SVC-006",
  "SVC-007",
  "SVC-008",
  "SVC-009",
  "SVC-010",
  "SVC-016",
  "SVC-017",
  "SVC-018",
  "SVC-019",
  "SEC-007",
  "SEC-008",
  "SEC-009",
  "PERF-003",
]);

// The HTTP requests a check sends (same method, Host and URL, so the memoised answer is reused, not re-asked).
function requestsOf(id: string, c: Config, g: string): Request[] {
  const n = c.nginxUrl && c.dependencies.nginx ? c.nginxUrl : undefined;
  const health = c.healthPaths ?? KNOWN_HEALTH_PATHS;
  const first = health[0] as string;
  const all = (base: string): Request[] => [...health.map((path) => ({ base, path })), { base, path: first, method: "HEAD" }];
  const table: Record<string, Request[]> = {
    "HTTP-001": all(g),
    "HTTP-002": n ? all(n) : [],
    "HTTP-003": [{ base: g, path: c.adminLoginPath }],
    "HTTP-004": c.apiPath ? [{ base: g, path: c.apiPath }] : [],
    "HTTP-005": [{ base: g, path: first, host: "ddv-not-allowed.invalid" }],
    "HTTP-006": n ? [{ base: n, path: c.staticPath }] : [],
    "HTTP-007": n ? [first, c.adminLoginPath, ...(c.apiPath ? [c.apiPath] : [])].map((path) => ({ base: n, path })) : [],
    "SEC-004": n ? [{ base: n, path: c.staticPath }] : [],
    "SEC-005": [g, ...(n ? [n] : [])].map((base) => ({ base, path: first })),
    "SEC-006": n ? ["/.env", "/.git/HEAD"].map((path) => ({ base: n, path })) : [],
  };
  return table[id] ?? [];
}

// Which evidence explains a failure of this check (pure: unit-tested per check ID).
// `gunicorn`: where Gunicorn answers (the run's resolved endpoint).
export function planEvidence(check: Pick<Check, "id">, c: Config, gunicorn = c.gunicornUrl ?? DEFAULT_GUNICORN_URL): EvidenceKind[] {
  const out: EvidenceKind[] = [];
  const service = unitName(c.service);
  if (JOURNAL.has(check.id)) out.push({ kind: "journal" });
  if (UNIT.has(check.id)) out.push({ kind: "unit", unit: service });
  const requests = requestsOf(check.id, c, gunicorn);
  if (requests.length) out.push({ kind: "http", requests });
  switch (check.id) {
    case "SVC-010":
      out.push({ kind: "command", argv: ["systemd-analyze", "verify", service] });
      break;
    case "SVC-012":
      out.push({ kind: "status", unit: unitName(c.dependencies.postgresql) }, { kind: "unit", unit: unitName(c.dependencies.postgresql) });
      break;
    case "SVC-013":
    case "SVC-014":
      if (c.dependencies.nginx)
        out.push(check.id === "SVC-013" ? { kind: "status", unit: unitName(c.dependencies.nginx) } : { kind: "command", argv: ["nginx", "-t"] });
      break;
    case "SEC-009":
      out.push({ kind: "command", argv: ["systemd-analyze", "security", "--no-pager", service] });
      break;
    case "SEC-010":
      out.push({ kind: "django", part: "check" });
      break;
    case "DB-002":
      out.push({ kind: "django", part: "migrations" });
      break;
  }
  return out;
}

// Cuts text to `max` bytes of UTF-8 (keeping the end when `from` is "end", as for a journal), saying what was cut.
export function capText(text: string, max = ATTACHMENT_MAX_BYTES, from: "start" | "end" = "start"): string {
  const buf = Buffer.from(text, "utf8");
  if (buf.length <= max) return text;
  const note = from === "end" ? `[... ${buf.length - max} earlier bytes cut ...]\n` : `\n[... ${buf.length - max} more bytes cut ...]`;
  const keep = max - Buffer.byteLength(note);
  // toString drops a split multi-byte character at either cut as U+FFFD; strip it.
  const part = (from === "end" ? buf.subarray(buf.length - keep) : buf.subarray(0, keep)).toString("utf8").replace(/^\uFFFD|\uFFFD$/g, "");
  return from === "end" ? note + part : part + note;
}

// A response as an operator reads it in curl -i: request line, status line, headers, body size.
export function describeResponse(req: Request, hostHeader: string, r: HttpResult): string {
  const head = `${req.method ?? "GET"} ${r.url} (Host: ${req.host ?? hostHeader})`;
  if ("error" in r) return `${head}\nno answer after ${Math.round(r.ms)} ms: ${r.error}`;
  const headers = Object.entries(r.headers).map(([k, v]) => `${k}: ${v}`);
  return [head, `HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? ""}`.trimEnd(), ...headers, `(${r.bytes} bytes of body in ${Math.round(r.ms)} ms)`].join(
    "\n",
  );
}

// A command and what it printed, as an operator would see it in a shell.
function describeRun(argv: string[], r: { exitCode: number; stdout: string; stderr: string }): string {
  const parts = [`$ ${argv.join(" ")}`, `(exit ${r.exitCode})`];
  if (r.stdout.trim()) parts.push(r.stdout.trimEnd());
  if (r.stderr.trim()) parts.push(`--- stderr ---\n${r.stderr.trimEnd()}`);
  return parts.join("\n");
}

// Runs a read-only command once per run (several failing checks may want the same one).
function runOnce(ctx: ProbeContext, argv: string[]): Promise<string> {
  return ctx.once(`report:run:${JSON.stringify(argv)}`, async () => describeRun(argv, await ctx.transport.run(argv)));
}

async function gatherOne(ctx: ProbeContext, k: EvidenceKind): Promise<Evidence> {
  switch (k.kind) {
    case "journal": {
      const lines = await currentJournal(ctx);
      const note = lines.capped ? `(${lines.capped})\n` : "";
      return { name: "journal since the service's current start", text: `${note}${lines.length ? lines.join("\n") : "(no entries)"}` };
    }
    case "unit":
      return { name: `systemctl cat ${k.unit}`, text: await runOnce(ctx, ["systemctl", "cat", "--no-pager", k.unit]) };
    case "status":
      return { name: `systemctl status ${k.unit}`, text: await runOnce(ctx, ["systemctl", "status", "--no-pager", "--lines=30", k.unit]) };
    case "command":
      return { name: k.argv.join(" "), text: await runOnce(ctx, k.argv) };
    case "http": {
      const answers = await Promise.all(k.requests.map((q) => fetchCached(ctx, q.base, q.path, { method: q.method, host: q.host })));
      return {
        name: "HTTP status lines and headers",
        text: answers.map((r, i) => describeResponse(k.requests[i] as Request, ctx.config.hostHeader, r)).join("\n\n"),
      };
    }
    case "django": {
      const f = await serviceFacts(ctx);
      const what = k.part === "check" ? "manage.py check --deploy" : "manage.py showmigrations --plan --skip-checks";
      if (!f.ran) return { name: what, text: `could not run (${f.as}): ${f.error}` };
      if (!f.django.ok) return { name: what, text: `Django could not start (${f.as}): ${f.django.error}` };
      const part = k.part === "check" ? f.django.check : f.django.migrations;
      const text = !part ? "not asked for in this run" : "output" in part ? part.output : part.error;
      return { name: what, text: `(${f.as})\n${text || "(no output)"}` };
    }
  }
}

// The evidence for a failed or errored check, redacted with the run's secrets and capped; a piece that cannot be
// gathered says why instead (evidence never turns a verdict, and never throws).
export async function gatherEvidence(ctx: ProbeContext, check: Pick<Check, "id">, secrets: string[]): Promise<Evidence[]> {
  const endpoint = await gunicornEndpoint(ctx).catch(() => undefined);
  const plan = await healthPlan(ctx).catch(() => undefined);
  const kinds = planEvidence(check, plan ? { ...ctx.config, healthPaths: plan.paths } : ctx.config, endpoint?.label);
  const pieces = await Promise.all(
    kinds.map((k) =>
      gatherOne(ctx, k).catch(
        (err: unknown): Evidence => ({ name: k.kind === "command" ? k.argv.join(" ") : k.kind, text: `could not gather: ${(err as Error).message}` }),
      ),
    ),
  );
  // Redact before cutting: a cut could leave part of a secret that no longer matches.
  return pieces.map((p) => ({ name: p.name, text: capText(redact(p.text, secrets), ATTACHMENT_MAX_BYTES, p.name.startsWith("journal") ? "end" : "start") }));
}
