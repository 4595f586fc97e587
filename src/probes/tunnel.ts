import path from "node:path";
import { buildConnector } from "undici";
import type { ProbeContext } from "./context.ts";
import type { SshTransport } from "../transport/types.ts";

// "host:port" as ssh's -L reads it (an IPv6 address in brackets).
const hostPort = (host: string, port: number) => `${host.includes(":") ? `[${host.replace(/^\[|\]$/g, "")}]` : host}:${port}`;

// A connect through a forward that fails because the ssh connection itself died says so (ESSH), not ECONNREFUSED:
// the check errors as "host lost", never as an answer of the host.
function blameLostConnection(t: SshTransport, callback: buildConnector.Callback): buildConnector.Callback {
  return (...args) => {
    const [err] = args;
    if (!err) return callback(...args);
    t.lostConnection().then(
      (lost) => callback(lost ?? err, null),
      () => callback(err, null),
    );
  };
}

// undici's `connect` option for this host: a plain timeout here; on a remote host, each connection goes through
// the transport's own connection to the address as the host sees it (its loopback), opening no port anywhere.
// `tls`: extra TLS options for an https connection (the certificate probe reads a certificate that does not verify).
export function httpConnect(ctx: ProbeContext, timeout: number, tls: buildConnector.BuildOptions = {}): buildConnector.BuildOptions | buildConnector.connector {
  const t = ctx.transport;
  if (t.kind === "local") return { ...tls, timeout };
  const forward = t.forward.bind(t);
  return (opts, callback) => {
    const port = Number(opts.port) || (opts.protocol === "https:" ? 443 : 80);
    forward(hostPort(opts.hostname, port)).then(
      (socketPath) => buildConnector({ ...tls, timeout, socketPath })(opts, blameLostConnection(t, callback)),
      (err: Error) => callback(err, null),
    );
  };
}

// undici's `connect` option for a unix socket on this host (a Gunicorn bind unix:/run/x.sock): the path itself here,
// forwarded through the transport's connection on a remote host.
export function unixConnect(ctx: ProbeContext, socketPath: string, timeout: number): buildConnector.BuildOptions | buildConnector.connector {
  const t = ctx.transport;
  if (t.kind === "local") return { timeout, socketPath };
  const forward = t.forward.bind(t);
  return (opts, callback) => {
    forward(socketPath).then(
      (local) => buildConnector({ timeout, socketPath: local })(opts, blameLostConnection(t, callback)),
      (err: Error) => callback(err, null),
    );
  };
}

// Where node-postgres should connect for the service's database: the address itself here; on a remote host a
// directory holding `.s.PGSQL.<port>`, forwarded to the address (or Unix socket directory) the service uses.
export async function pgAddress(ctx: ProbeContext, host: string, port: number): Promise<string> {
  const t = ctx.transport;
  if (t.kind === "local") return host;
  const file = `.s.PGSQL.${port}`;
  const remote = host.startsWith("/") ? path.posix.join(host, file) : hostPort(host, port);
  return path.dirname(await t.forward(remote, file));
}
