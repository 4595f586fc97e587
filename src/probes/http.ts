import { isIP } from "node:net";
import { Agent, request } from "undici";
import type { ProbeContext } from "./context.ts";
import { httpConnect, unixConnect } from "./tunnel.ts";
import { TransportError } from "../transport/types.ts";

// bytes: the whole body's length in bytes as received (body itself is capped and decoded as text).
export type HttpResponse = { url: string; status: number; headers: Record<string, string>; body: string; bytes: number; ms: number };
export type HttpResult = HttpResponse | { url: string; error: string; ms: number };

const MAX_BODY = 64 * 1024;

// One keep-alive agent per run and address; redirects are never followed (a 302 is an observation). `base` is an
// http URL or `unix:/path` (a Gunicorn bound to a unix socket).
export function httpAgent(ctx: ProbeContext, base = ""): Agent {
  const unix = socketOf(base);
  const key = Symbol.for(`ddv.agent${unix ? `:${unix}` : ""}`);
  const holder = ctx as unknown as Record<symbol, Agent | undefined>;
  if (!holder[key]) {
    const agent = new Agent({ connect: connectFor(ctx, base), keepAliveTimeout: 4_000, connections: 16 });
    holder[key] = agent;
    ctx.onClose(() => {
      holder[key] = undefined; // the next spec file opens its own
      return agent.close();
    });
  }
  return holder[key] as Agent;
}

// The socket path of a `unix:/path` base, else undefined.
export const socketOf = (base: string) => (base.startsWith("unix:") ? base.slice(5) : undefined);

function connectFor(ctx: ProbeContext, base: string) {
  const unix = socketOf(base);
  return unix ? unixConnect(ctx, unix, ctx.config.timeouts.httpMs) : httpConnect(ctx, ctx.config.timeouts.httpMs);
}

// How messages name a base: its origin, or `http://unix:/path` for a unix socket.
export const originOf = (base: string) => (socketOf(base) ? `http://unix:${socketOf(base)}` : new URL(base).origin);

// The host name a base answers as (a unix socket's requests go to localhost).
export const hostnameOf = (base: string) => (socketOf(base) ? "localhost" : new URL(base).hostname);

// The URL a request goes to, and how messages show it: through a unix socket as nginx writes it
// (http://unix:/run/gunicorn.sock:/health/).
export function requestUrl(base: string, path: string): { url: string; shown: string } {
  const unix = socketOf(base);
  if (!unix) {
    const url = new URL(path, base).toString();
    return { url, shown: url };
  }
  const url = new URL(path, "http://localhost").toString();
  return { url, shown: `http://unix:${unix}:${url.slice("http://localhost".length)}` };
}

// A reset or close on a kept-alive connection: the server (a Gunicorn worker recycled by --max-requests) closed
// it as we sent. Clients send an idempotent request again on a new connection (RFC 9110 9.2.2); so do we, once.
export const STALE_CONNECTION = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET"]);

// Sends one request with an explicit Host header; network failures come back as { error }; a lost transport (ssh
// connection ended) is thrown as a TransportError: the check could not look.
export async function fetchOnce(ctx: ProbeContext, base: string, path: string, opts: { method?: "GET" | "HEAD"; host?: string } = {}): Promise<HttpResult> {
  const first = await send(ctx, base, path, opts, httpAgent(ctx, base));
  if (!("error" in first) || !STALE_CONNECTION.has(first.error)) return first;
  const fresh = new Agent({ connect: connectFor(ctx, base), connections: 1 });
  try {
    const again = await send(ctx, base, path, opts, fresh);
    return "error" in again ? { ...again, error: `${again.error} (and ${first.error} on the first try)` } : again;
  } finally {
    void fresh.close().catch(() => {});
  }
}

async function send(ctx: ProbeContext, base: string, path: string, opts: { method?: "GET" | "HEAD"; host?: string }, dispatcher: Agent): Promise<HttpResult> {
  const { url, shown } = requestUrl(base, path);
  const started = performance.now();
  try {
    const res = await request(url, {
      method: opts.method ?? "GET",
      headers: { host: opts.host ?? ctx.config.hostHeader, "user-agent": "django-deploy-validator" },
      // Over https the TLS name is always the site's (hostHeader): a request sent with another Host (HTTP-009's names)
      // tests nginx's and Django's routing, not the certificate, which HTTP-012 judges name by name.
      ...(url.startsWith("https:") ? { servername: tlsName(ctx.config.hostHeader) } : {}),
      dispatcher,
      signal: AbortSignal.timeout(ctx.config.timeouts.httpMs),
    });
    let body = "";
    let bytes = 0;
    for await (const chunk of res.body) {
      bytes += (chunk as Buffer).length;
      if (body.length < MAX_BODY) body += String(chunk);
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) headers[k] = Array.isArray(v) ? v.join(", ") : String(v ?? "");
    return { url: shown, status: res.statusCode, headers, body: body.slice(0, MAX_BODY), bytes, ms: performance.now() - started };
  } catch (err) {
    const e = err as Error & { code?: string };
    // The host itself lost (an ssh connection that ended): we could not look, so no check may read it as a refusal.
    if (err instanceof TransportError) throw err;
    if (e.code === "ESSH") throw new TransportError(`${shown}: ${e.message}`, "ESSH");
    const why = e.name === "TimeoutError" ? `no answer within ${ctx.config.timeouts.httpMs} ms` : (e.code ?? e.message);
    return { url: shown, error: why, ms: performance.now() - started };
  }
}

// The name a TLS client sends (SNI) and checks the certificate against for a Host header: without its port; an IP
// address sends none (undefined).
export function tlsName(host: string): string | undefined {
  const name = host.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  return isIP(name) ? undefined : name;
}

// Whether a certificate can name `host`: not localhost, not an IP address (what a public CA such as Let's Encrypt issues).
export const certifiableName = (host: string) => host !== "localhost" && tlsName(host) !== undefined;

// Memoised GET/HEAD so several checks reading the same URL cost one request.
export function fetchCached(ctx: ProbeContext, base: string, path: string, opts: { method?: "GET" | "HEAD"; host?: string } = {}): Promise<HttpResult> {
  return ctx.once(`http:${opts.method ?? "GET"}:${opts.host ?? ""}:${base}${path}`, () => fetchOnce(ctx, base, path, opts));
}

// Short human description of a response for failure messages.
export function summarize(ctx: ProbeContext, r: HttpResult): string {
  if ("error" in r) return `${r.url}: ${r.error}`;
  // An HTML page is named by its <title>; anything else is quoted, shortened.
  const title = r.body.match(/<title>([^<]*)<\/title>/i)?.[1]?.trim();
  const body = title ? `page "${ctx.clip(title, 80)}"` : JSON.stringify(ctx.clip(r.body.replace(/\s+/g, " ").trim(), 120));
  return `${r.url}: HTTP ${r.status}${r.body.trim() ? ` ${body}` : ""}`;
}
