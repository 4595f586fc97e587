import { checkServerIdentity, type TLSSocket } from "node:tls";
import { buildConnector } from "undici";
import type { ProbeContext } from "./context.ts";
import { httpConnect } from "./tunnel.ts";
import { TransportError } from "../transport/types.ts";

// What an https server presented for one TLS name: whether the chain verifies (Node's CAs plus NODE_EXTRA_CA_CERTS),
// whether the certificate covers the name, its names and its end of validity. `error`: no handshake at all.
export type CertLook = { name: string; chainError?: string; nameError?: string; names: string[]; validTo?: Date } | { name: string; error: string };

// Looks at the certificate `base` (https://host[:port]) presents for `name` (sent as SNI), once per run and name.
export function lookAtCertificate(ctx: ProbeContext, base: string, name: string): Promise<CertLook> {
  return ctx.once(`tls:${base}:${name}`, () => handshake(ctx, base, name));
}

async function handshake(ctx: ProbeContext, base: string, name: string): Promise<CertLook> {
  const u = new URL(base);
  const options = httpConnect(ctx, ctx.config.timeouts.httpMs, { rejectUnauthorized: false });
  const connect = typeof options === "function" ? options : buildConnector(options);
  const socket = await new Promise<TLSSocket | Error>((resolve) =>
    connect({ hostname: u.hostname, host: u.host, protocol: "https:", port: u.port || "443", servername: name }, (err, s) => resolve(err ?? (s as TLSSocket))),
  );
  if (socket instanceof TransportError) throw socket; // the host itself lost: we could not look
  if (socket instanceof Error) return { name, error: (socket as Error & { code?: string }).code ?? socket.message };
  try {
    const cert = socket.getPeerCertificate();
    if (!cert || !Object.keys(cert).length) return { name, error: "the server presented no certificate" };
    const names = (cert.subjectaltname ?? "")
      .split(/,\s*/)
      .filter((n) => n.startsWith("DNS:"))
      .map((n) => n.slice(4));
    const mismatch = checkServerIdentity(name, cert);
    return {
      name,
      chainError: socket.authorized ? undefined : String(socket.authorizationError ?? "not authorized"),
      nameError: mismatch ? ((mismatch as Error & { code?: string }).code ?? mismatch.message) : undefined,
      names: names.length ? names : [cert.subject?.CN].filter((n): n is string => !!n),
      validTo: cert.valid_to ? new Date(cert.valid_to) : undefined,
    };
  } finally {
    socket.destroy();
  }
}
