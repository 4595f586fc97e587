import type { ProbeContext } from "./context.ts";
import { bindEndpoint, listenBind } from "./endpoint.ts";
import { KNOWN_HEALTH_PATHS } from "./health-plan.ts";
import { fetchOnce } from "./http.ts";
import type { Unit } from "./systemd.ts";

// Starts an idle socket-activated service the way a visitor does: one GET of the first health path through its
// socket (systemd starts the service on the connection; the answer comes once Gunicorn has it). Says what happened.
export async function wakeThroughSocket(ctx: ProbeContext, socket: Unit, was = "idle"): Promise<string> {
  const stream = socket.listen.find((l) => l.type === "Stream");
  if (!stream) return `${socket.id} has no stream listener to wake the service through`;
  const e = bindEndpoint(listenBind(stream.address), `ListenStream of ${socket.id}`);
  if (!e) return `${socket.id} listens on ${stream.address}, which cannot be connected to`;
  const path = ctx.config.healthPaths?.[0] ?? (KNOWN_HEALTH_PATHS[0] as string);
  const r = await fetchOnce(ctx, e.label, path);
  const answer = "error" in r ? r.error : `HTTP ${r.status}`;
  return `it was ${was} behind ${socket.id}; a GET ${path} through ${e.label} to start it answered ${answer}`;
}
