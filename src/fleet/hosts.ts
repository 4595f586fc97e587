import type { SshTarget } from "../transport/ssh.ts";

// A DEPLOY_HOSTS entry: [user@]host[:port], host a name, an IPv4 address or a bracketed IPv6 one.
const ENTRY = /^(?:([A-Za-z0-9._-]+)@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9._-]*)(?::(\d{1,5}))?$/;

// Reads DEPLOY_HOSTS ("web1,deploy@web2:2222,[fd00::5]"); throws one message naming the first bad entry.
export function parseHostList(text: string): SshTarget[] {
  const entries = text
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean);
  if (!entries.length) throw new Error(`DEPLOY_HOSTS names no host (received ${JSON.stringify(text)})`);
  const seen = new Set<string>();
  return entries.map((e) => {
    const m = e.match(ENTRY);
    const port = m?.[3] === undefined ? undefined : Number(m[3]);
    if (!m || (port !== undefined && (port < 1 || port > 65535)))
      throw new Error(`DEPLOY_HOSTS entry ${JSON.stringify(e)} is not [user@]host[:port] (a name, an IPv4 address or [IPv6], port 1-65535)`);
    if (seen.has(e)) throw new Error(`DEPLOY_HOSTS names ${JSON.stringify(e)} twice`);
    seen.add(e);
    const host = (m[2] as string).replace(/^\[(.*)\]$/, "$1");
    return { host, ...(m[1] ? { user: m[1] } : {}), ...(port ? { port } : {}) };
  });
}
