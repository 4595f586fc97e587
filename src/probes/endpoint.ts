import type { ProbeContext } from "./context.ts";
import { gunicornSettings } from "./gunicorn.ts";
import { socketUnit } from "./systemd.ts";

// Where Gunicorn answers: an http URL, or a unix socket (`socketPath`, requests then go to `base` through it).
// `label` is what messages show ("unix:/run/gunicorn.sock"); `source` says where it was learned.
export type Endpoint = { base: string; socketPath?: string; label: string; port?: number; source: string };

// Gunicorn's own default bind, used when nothing says otherwise.
export const DEFAULT_GUNICORN_URL = "http://127.0.0.1:8000";

// A socket unit's Listen= address as a Gunicorn bind: a path becomes unix:/path, host:port stays.
export const listenBind = (address: string) => (address.startsWith("/") ? `unix:${address}` : address);

// Reads `http://host:port` or `unix:/path` (the forms config.gunicornUrl accepts).
export function parseEndpoint(value: string, source: string): Endpoint {
  if (value.startsWith("unix:")) return { base: "http://localhost", socketPath: value.slice(5), label: value, source };
  const u = new URL(value);
  return { base: value, label: value, port: Number(u.port || (u.protocol === "https:" ? 443 : 80)), source };
}

// A Gunicorn bind as a client reaches it: a wildcard address through loopback; undefined for fd:// binds.
export function bindEndpoint(bind: string, source: string): Endpoint | undefined {
  const b = bind.replace(/^tcp:\/\//, "");
  if (b.startsWith("unix:")) return parseEndpoint(b, source);
  if (b.startsWith("fd://")) return undefined;
  const m = b.match(/^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/);
  if (!m) return undefined;
  const host = m[1] === "0.0.0.0" || m[1] === "" ? "127.0.0.1" : m[1] === "[::]" ? "[::1]" : (m[1] as string);
  return parseEndpoint(`http://${host}:${m[2] ?? "8000"}`, source);
}

// The address the checks talk to Gunicorn on: config.gunicornUrl when set; else the socket unit that starts the
// service (what really listens under socket activation); else Gunicorn's first bind as its config loader resolves
// it; else Gunicorn's default. Memoised per run.
export function gunicornEndpoint(ctx: ProbeContext): Promise<Endpoint> {
  return ctx.once("gunicorn:endpoint", async () => {
    if (ctx.config.gunicornUrl) return parseEndpoint(ctx.config.gunicornUrl, "config gunicornUrl");
    const sock = await socketUnit(ctx).catch(() => undefined);
    const stream = sock?.listen.find((l) => l.type === "Stream");
    if (sock && stream) {
      const e = bindEndpoint(listenBind(stream.address), `ListenStream of ${sock.id}`);
      if (e) return e;
    }
    const g = await gunicornSettings(ctx).catch(() => undefined);
    for (const b of g?.bind ?? []) {
      const e = bindEndpoint(b, "Gunicorn's bind");
      if (e) return e;
    }
    return parseEndpoint(DEFAULT_GUNICORN_URL, "Gunicorn's default bind");
  });
}

// The base the HTTP probes use for Gunicorn: an http URL or unix:/path.
export async function gunicornBase(ctx: ProbeContext): Promise<string> {
  return (await gunicornEndpoint(ctx)).label;
}
