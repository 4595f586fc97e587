import { checkServerIdentity, type TLSSocket } from "node:tls";
import { errorCode, openSocket } from "./connect.ts";
import type { ProbeContext } from "./context.ts";

// What an https server presented for one TLS name: whether the chain verifies (Node's CAs plus NODE_EXTRA_CA_CERTS),
// whether the certificate covers the name, its names and its end of validity. `error`: no handshake at all.
export type CertLook = { name: string; chainError?: string; nameError?: string; names: string[]; validTo?: Date } | { name: string; error: string };

// Looks at the certificate `base` (https://host[:port]) presents for `name` (sent as SNI), once per run and name.
export function lookAtCertificate(ctx: ProbeContext, base: string, name: string): Promise<CertLook> {
  return ctx.once(`tls:${base}:${name}`, () => handshake(ctx, base, name));
}

async function handshake(ctx: ProbeContext, base: string, name: string): Promise<CertLook> {
  const opened = await openSocket(ctx, base, name, { rejectUnauthorized: false });
  if (opened instanceof Error) return { name, error: errorCode(opened) };
  const socket = opened as TLSSocket;
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
      nameError: mismatch ? errorCode(mismatch) : undefined,
      names: names.length ? names : [cert.subject?.CN].filter((n): n is string => !!n),
      validTo: cert.valid_to ? new Date(cert.valid_to) : undefined,
    };
  } finally {
    socket.destroy();
  }
}
