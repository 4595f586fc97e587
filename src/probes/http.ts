import { Agent, request } from "undici";
import type { ProbeContext } from "./context.ts";
import { httpConnect } from "./tunnel.ts";

// bytes: the whole body's length in bytes as received (body itself is capped and decoded as text).
export type HttpResponse = { url: string; status: number; headers: Record<string, string>; body: string; bytes: number; ms: number };
export type HttpResult = HttpResponse | { url: string; error: string; ms: number };

const MAX_BODY = 64 * 1024;

// One keep-alive agent per run; redirects are never followed (a 302 is an observation).
export function httpAgent(ctx: ProbeContext): Agent {
  const key = Symbol.for("ddv.agent");
  const holder = ctx as unknown as Record<symbol, Agent | undefined>;
  if (!holder[key]) {
    const agent = new Agent({ connect: httpConnect(ctx, ctx.config.timeouts.httpMs), keepAliveTimeout: 4_000, connections: 16 });
    holder[key] = agent;
    ctx.onClose(() => {
      holder[key] = undefined; // the next spec file opens its own
      return agent.close();
    });
  }
  return holder[key] as Agent;
}

// A reset or close on a kept-alive connection: the server (a Gunicorn worker recycled by --max-requests) closed
// it as we sent. Clients send an idempotent request again on a new connection (RFC 9110 9.2.2); so do we, once.
export const STALE_CONNECTION = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET"]);

// Sends one request with an explicit Host header; network failures come back as { error }, never thrown.
export async function fetchOnce(ctx: ProbeContext, base: string, path: string, opts: { method?: "GET" | "HEAD"; host?: string } = {}): Promise<HttpResult> {
  const first = await send(ctx, base, path, opts, httpAgent(ctx));
  if (!("error" in first) || !STALE_CONNECTION.has(first.error)) return first;
  const fresh = new Agent({ connect: httpConnect(ctx, ctx.config.timeouts.httpMs), connections: 1 });
  try {
    const again = await send(ctx, base, path, opts, fresh);
    return "error" in again ? { ...again, error: `${again.error} (and ${first.error} on the first try)` } : again;
  } finally {
    void fresh.close().catch(() => {});
  }
}

async function send(ctx: ProbeContext, base: string, path: string, opts: { method?: "GET" | "HEAD"; host?: string }, dispatcher: Agent): Promise<HttpResult> {
  const url = new URL(path, base).toString();
  const started = performance.now();
  try {
    const res = await request(url, {
      method: opts.method ?? "GET",
      headers: { host: opts.host ?? ctx.config.hostHeader, "user-agent": "django-deploy-validator" },
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
    return { url, status: res.statusCode, headers, body: body.slice(0, MAX_BODY), bytes, ms: performance.now() - started };
  } catch (err) {
    const e = err as Error & { code?: string };
    const why = e.name === "TimeoutError" ? `no answer within ${ctx.config.timeouts.httpMs} ms` : (e.code ?? e.message);
    return { url, error: why, ms: performance.now() - started };
  }
}

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
