import type { Socket } from "node:net";
import { buildConnector } from "undici";
import type { ProbeContext } from "./context.ts";
import { httpConnect } from "./tunnel.ts";
import { TransportError } from "../transport/types.ts";

// Opens one connection to `base` as the HTTP checks do (through the transport; over https a TLS handshake with
// `servername` as SNI, verified unless tls.rejectUnauthorized is false). Resolves the socket (the caller destroys
// it) or the error; a lost transport throws: we could not look.
export async function openSocket(
  ctx: ProbeContext,
  base: string,
  servername: string | undefined,
  tls: buildConnector.BuildOptions = {},
): Promise<Socket | Error> {
  const u = new URL(base);
  const options = httpConnect(ctx, ctx.config.timeouts.httpMs, tls);
  const connect = typeof options === "function" ? options : buildConnector(options);
  const port = u.port || (u.protocol === "https:" ? "443" : "80");
  const socket = await new Promise<Socket | Error>((resolve) =>
    connect({ hostname: u.hostname, host: u.host, protocol: u.protocol, port, ...(servername ? { servername } : {}) }, (err, s) =>
      resolve(err ?? (s as Socket)),
    ),
  );
  if (socket instanceof TransportError) throw socket;
  return socket;
}

// An error as the checks quote it: its code (ECONNREFUSED, CERT_HAS_EXPIRED) when it has one, else its message.
export const errorCode = (err: Error) => (err as Error & { code?: string }).code ?? err.message;

// Whether `base` accepts a connection (and, over https, completes a verified handshake for `servername`): undefined
// when it does, else the error's code or message.
export async function connectError(ctx: ProbeContext, base: string, servername: string | undefined): Promise<string | undefined> {
  const s = await openSocket(ctx, base, servername);
  if (s instanceof Error) return errorCode(s);
  s.destroy();
  return undefined;
}
