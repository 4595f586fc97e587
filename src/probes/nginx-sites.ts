import { createHash } from "node:crypto";
import path from "node:path";
import type { ProbeContext } from "./context.ts";
import { gunicornEndpoint, type Endpoint } from "./endpoint.ts";

// nginx's configuration as nginx itself reads it (`nginx -T`): the server blocks, what they listen on, the names
// they serve and where they proxy. Used to learn the names visitors reach the app by.

// One directive: its name, its arguments (quotes removed), its children when it is a block, and where it is.
export type Directive = { name: string; args: string[]; block?: Directive[]; at: string };

// How a server block listens: a port (address optional: none means every address) or a unix socket.
// `ssl`: the listen speaks TLS (`listen 443 ssl`).
export type Listen = { address?: string; port?: number; unix?: string; defaultServer: boolean; ssl?: boolean };

// Where a proxy_pass/uwsgi_pass sends requests: a TCP host and port, or a unix socket path.
export type Target = { host: string; port: number } | { unix: string };

// digest: of the block's directives (not where they are), so an edit shows even when names and targets stay.
export type ServerBlock = { at: string; names: string[]; listens: Listen[]; targets: Target[]; unresolved: string[]; digest: string };

export type NginxSites = { servers: ServerBlock[]; source: string };

// `nginx -T` writes each file it read after a line `# configuration file <path>:`, in the order it read them.
export function splitDump(stdout: string): Map<string, string> {
  const files = new Map<string, string>();
  const parts = stdout.split(/^# configuration file (.+):\r?\n/m);
  for (let i = 1; i + 1 < parts.length; i += 2) files.set(parts[i] as string, (parts[i + 1] as string).replace(/\n$/, ""));
  return files;
}

// Parses one file's text as nginx's tokenizer does: `#` comments (only where a word starts), '...' and "..." with
// nginx's backslash escapes, `${var}` inside a word (its braces open no block), `;` ends a directive, `{ }` a block.
export function parseConfig(text: string, file: string): Directive[] {
  const root: Directive[] = [];
  const stack: Directive[][] = [root];
  let words: string[] = [];
  let startLine = 0;
  let line = 1;
  let i = 0;
  const bad = (what: string) => new Error(`${file}:${line}: ${what}`);
  // One character of a word: nginx drops a backslash only before a quote or a backslash and turns \t \r \n into
  // their characters; any other backslash stays (regular expressions keep their `\.`).
  const wordChar = () => {
    const next = text[i + 1] ?? "";
    if (text[i] !== "\\" || !/["'\\trn]/.test(next)) return text[i++] as string;
    i += 2;
    return next === "t" ? "\t" : next === "r" ? "\r" : next === "n" ? "\n" : next;
  };
  while (i < text.length) {
    const ch = text[i] as string;
    if (ch === "\n") line++;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === "#") {
      while (i < text.length && text[i] !== "\n") i++;
      continue;
    }
    if (ch === ";" || ch === "{" || ch === "}") {
      i++;
      const top = stack[stack.length - 1] as Directive[];
      if (ch === "}") {
        if (words.length || stack.length === 1) throw bad('unexpected "}"');
        stack.pop();
        continue;
      }
      if (!words.length) throw bad(`unexpected "${ch}"`);
      const d: Directive = { name: words[0] as string, args: words.slice(1), at: `${file}:${startLine}` };
      if (ch === "{") stack.push((d.block = []));
      top.push(d);
      words = [];
      continue;
    }
    if (!words.length) startLine = line;
    let word = "";
    if (ch === '"' || ch === "'") {
      i++;
      while (i < text.length && text[i] !== ch) {
        if (text[i] === "\n") line++;
        word += wordChar();
      }
      if (i >= text.length) throw bad("unterminated quoted string");
      i++;
    } else {
      while (i < text.length && !/[\s;{}]/.test(text[i] as string)) {
        if (text[i] === "$" && text[i + 1] === "{") {
          const end = text.indexOf("}", i);
          if (end < 0) throw bad("unterminated ${");
          word += text.slice(i, end + 1);
          i = end + 1;
          continue;
        }
        word += wordChar();
      }
    }
    words.push(word);
  }
  if (words.length || stack.length > 1) throw bad("unexpected end of file");
  return root;
}

// A glob (*, ?, [...]) as a regular expression over whole paths, as glob(3) matches them.
const globRegex = (glob: string) =>
  new RegExp(
    `^${glob
      .replace(/[.+^${}()|\\]/g, "\\$&")
      .replace(/\*/g, "[^/]*")
      .replace(/\?/g, "[^/]")}$`,
  );

// An include's pattern as an absolute path: relative ones are relative to the main file's directory (the prefix).
const includePath = (pattern: string, main: string) => (pattern.startsWith("/") ? pattern : path.posix.join(path.posix.dirname(main), pattern));

// The main file with every `include` replaced by the directives of the files it names (in name order, as glob(3)
// sorts them), so each directive sits in the context nginx reads it in.
export function expandIncludes(files: Map<string, string>, main: string): Directive[] {
  const parsed = new Map<string, Directive[]>();
  const parse = (f: string) => parsed.get(f) ?? (parsed.set(f, parseConfig(files.get(f) as string, f)).get(f) as Directive[]);
  const expand = (ds: Directive[], depth: number): Directive[] =>
    ds.flatMap((d) => {
      if (d.name === "include" && !d.block) {
        if (depth > 10) throw new Error(`${d.at}: includes nested deeper than 10`);
        const re = globRegex(includePath(d.args[0] ?? "", main));
        return [...files.keys()]
          .filter((f) => re.test(f))
          .sort()
          .flatMap((f) => expand(parse(f), depth + 1));
      }
      return [d.block ? { ...d, block: expand(d.block, depth) } : d];
    });
  return expand(parse(main), 0);
}

// `listen` arguments: "80", "127.0.0.1:8080", "[::]:80", "localhost", "unix:/run/x.sock", then flags.
export function parseListen(args: string[]): Listen {
  const [where = "", ...flags] = args;
  const defaultServer = flags.includes("default_server") || flags.includes("default");
  const tls = flags.includes("ssl") ? { ssl: true } : {};
  if (where.startsWith("unix:")) return { unix: where.slice(5), defaultServer, ...tls };
  if (/^\d+$/.test(where)) return { port: Number(where), defaultServer, ...tls };
  const m = where.match(/^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/);
  return { address: m?.[1] || where, port: Number(m?.[2] ?? 80), defaultServer, ...tls };
}

// A proxy target: `http://host:port/uri`, `http://unix:/path:/uri`, `host:port` or `unix:/path` (uwsgi_pass), or
// an upstream's name. Undefined for targets built from variables.
export function parseTarget(value: string, upstreams: Map<string, string[]>): Target[] | undefined {
  if (value.includes("$")) return undefined;
  const scheme = value.match(/^([a-z]+):\/\//)?.[1];
  const rest = scheme ? value.slice(scheme.length + 3) : value;
  if (rest.startsWith("unix:")) return [{ unix: (rest.slice(5).match(/^[^:]*/) as RegExpMatchArray)[0] }];
  const hostPort = rest.replace(/\/.*$/, "");
  const named = upstreams.get(hostPort);
  if (named) return named.flatMap((s) => parseTarget(s, new Map()) ?? []);
  const m = hostPort.match(/^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/);
  if (!m) return undefined;
  return [{ host: m[1] as string, port: Number(m[2] ?? (scheme === "https" ? 443 : 80)) }];
}

// Every directive named `name` in a block and the blocks nested in it (location, if, limit_except).
const deep = (ds: Directive[], name: string): Directive[] => ds.flatMap((d) => [...(d.name === name ? [d] : []), ...deep(d.block ?? [], name)]);

// The http{} server blocks of an expanded configuration (stream{} and mail{} servers are not web sites).
export function serverBlocks(config: Directive[]): ServerBlock[] {
  const http = config.filter((d) => d.name === "http").flatMap((d) => d.block ?? []);
  const upstreams = new Map(
    http
      .filter((d) => d.name === "upstream" && d.block)
      .map((d) => [d.args[0] ?? "", (d.block as Directive[]).filter((s) => s.name === "server").map((s) => s.args[0] ?? "")]),
  );
  return http
    .filter((d) => d.name === "server" && d.block)
    .map((d) => {
      const body = d.block as Directive[];
      const passes = [...deep(body, "proxy_pass"), ...deep(body, "uwsgi_pass")].map((p) => p.args[0] ?? "");
      const listens = body.filter((l) => l.name === "listen").map((l) => parseListen(l.args));
      return {
        at: d.at,
        names: body.filter((n) => n.name === "server_name").flatMap((n) => n.args),
        // No listen directive: nginx (run as root) listens on *:80.
        listens: listens.length ? listens : [{ port: 80, defaultServer: false }],
        targets: passes.flatMap((p) => parseTarget(p, upstreams) ?? []),
        unresolved: passes.filter((p) => !parseTarget(p, upstreams)),
        digest: createHash("sha256")
          .update(JSON.stringify(body, (k, v) => (k === "at" ? undefined : v)))
          .digest("hex"),
      };
    });
}

// The server blocks of the configuration nginx loads, from `nginx -T` (run once per run). When nginx refuses the
// files on disk (SVC-014 reports that), the running nginx still serves its last good configuration: the files are
// then read directly, following the includes, so the names can still be learned. Throws when neither works.
export function nginxSites(ctx: ProbeContext): Promise<NginxSites> {
  return ctx.once("nginx:sites", async () => {
    const r = await ctx.transport.run(["nginx", "-T"], { maxOutputBytes: 8 * 1024 * 1024 });
    if (r.truncated) throw new Error("nginx -T printed more than 8 MiB");
    if (r.exitCode === 0) {
      const files = splitDump(r.stdout);
      const main = files.keys().next().value;
      if (!main) throw new Error(`nginx -T printed no configuration: ${ctx.clip(r.stderr.trim(), 200)}`);
      return { servers: serverBlocks(expandIncludes(files, main)), source: "nginx -T" };
    }
    const refused = r.stderr.match(/configuration file (\S+) test failed/);
    if (!refused) throw new Error(`nginx -T exited ${r.exitCode}: ${ctx.clip(r.stderr.trim(), 200)}`);
    const main = refused[1] as string;
    const files = await readConfigFiles(ctx, main);
    const why = r.stderr.split("\n").find((l) => /emerg/.test(l)) ?? `exit ${r.exitCode}`;
    return { servers: serverBlocks(expandIncludes(files, main)), source: `the files on disk (nginx -T refused them: ${ctx.clip(why.trim(), 160)})` };
  });
}

// The main file and every file its includes name (globs only in the last path component), read from the host.
export async function readConfigFiles(ctx: ProbeContext, main: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const read = async (f: string, depth: number): Promise<void> => {
    if (files.has(f)) return;
    const text = await ctx.transport.readFile(f);
    files.set(f, text);
    for (const inc of deep(parseConfig(text, f), "include")) {
      const pattern = includePath(inc.args[0] ?? "", main);
      if (depth > 10) throw new Error(`${inc.at}: includes nested deeper than 10`);
      if (!/[*?[]/.test(pattern)) {
        await read(pattern, depth + 1);
        continue;
      }
      const dir = path.posix.dirname(pattern);
      if (/[*?[]/.test(dir)) throw new Error(`${inc.at}: cannot expand a glob in a directory name (${pattern})`);
      const re = globRegex(pattern);
      const names = (await ctx.transport.readDir(dir)).map((n) => path.posix.join(dir, n)).filter((p) => re.test(p) && !path.posix.basename(p).startsWith("."));
      for (const p of names.sort()) await read(p, depth + 1);
    }
  };
  await read(main, 0);
  return files;
}

// Two spellings of one address: equal, or localhost and a loopback address.
const sameHost = (a: string, b: string) => {
  const loop = (h: string) => (h === "localhost" ? "loopback" : h === "127.0.0.1" || h === "[::1]" || h === "::1" ? "loopback" : h);
  return a === b || loop(a) === loop(b);
};

// Whether a proxy target is where Gunicorn answers.
export function reachesEndpoint(t: Target, ep: Endpoint): boolean {
  if ("unix" in t) return ep.socketPath === t.unix;
  if (ep.socketPath || ep.port === undefined) return false;
  return t.port === ep.port && sameHost(t.host, new URL(ep.base).hostname);
}

// The server blocks a request to `url` can reach, as nginx chooses: blocks listening on exactly that address and
// port win over those listening on every address (`listen 80`, `*:80`, `0.0.0.0:80`; `[::]:80` for IPv6 only).
export function blocksOn(servers: ServerBlock[], url: string): ServerBlock[] {
  const u = new URL(url);
  const port = Number(u.port || (u.protocol === "https:" ? 443 : 80));
  const any = u.hostname.startsWith("[") ? "[::]" : "0.0.0.0";
  const wildcard = (l: Listen) => l.address === undefined || l.address === "*" || l.address === any;
  const exact = servers.filter((s) => s.listens.some((l) => l.port === port && !wildcard(l) && sameHost(l.address as string, u.hostname)));
  return exact.length ? exact : servers.filter((s) => s.listens.some((l) => l.port === port && wildcard(l)));
}

// The block nginx picks for a Host among the blocks on one address: the first naming it exactly, else the
// default_server, else the first. (Wildcard and regex names are not matched here: see skippedName.)
export function blockFor(candidates: ServerBlock[], host: string): ServerBlock | undefined {
  const name = host.toLowerCase().replace(/:\d+$/, "");
  return (
    candidates.find((s) => s.names.some((n) => n.toLowerCase() === name)) ?? candidates.find((s) => s.listens.some((l) => l.defaultServer)) ?? candidates[0]
  );
}

// Why a server_name is not probed (it is not one literal name a visitor types), or undefined.
export function skippedName(name: string): string | undefined {
  if (name === "") return '"" (requests without a Host)';
  if (name === "_") return "_ (catch-all placeholder)";
  if (name.startsWith("~")) return `${name} (regular expression)`;
  if (name.includes("*") || name.startsWith(".")) return `${name} (wildcard)`;
  if (name.includes("$")) return `${name} (variable)`;
  return undefined;
}

// The site's server blocks as a request to nginxUrl meets them: those that proxy to Gunicorn, else (nothing
// proxies there) the one that serves Host: hostHeader. `elsewhere`: blocks that proxy to Gunicorn on another port.
export function siteBlocks(sites: NginxSites, ep: Endpoint, nginxUrl: string, hostHeader: string) {
  const proxies = (s: ServerBlock) => s.targets.some((t) => reachesEndpoint(t, ep));
  const candidates = blocksOn(sites.servers, nginxUrl);
  const app = candidates.filter(proxies);
  const elsewhere = sites.servers.filter((s) => proxies(s) && !candidates.includes(s));
  if (app.length) return { blocks: app, candidates, elsewhere, fallback: false };
  const served = blockFor(candidates, hostHeader);
  return { blocks: served ? [served] : [], candidates, elsewhere, fallback: true };
}

// Where nginx sends the site's visitors (the proxy targets of the site's server blocks, on this machine), or
// undefined when nginx is not in front or its configuration cannot be read (other checks judge that).
export async function siteUpstreams(ctx: ProbeContext): Promise<Target[] | undefined> {
  const { nginxUrl, hostHeader, dependencies } = ctx.config;
  if (!nginxUrl || !dependencies.nginx) return undefined;
  try {
    const [sites, ep] = await Promise.all([nginxSites(ctx), gunicornEndpoint(ctx)]);
    const local = (t: Target) => "unix" in t || /^(127\.|localhost$|\[?::1\]?$)/.test(t.host);
    return siteBlocks(sites, ep, nginxUrl, hostHeader).blocks.flatMap((b) => b.targets.filter(local));
  } catch {
    return undefined;
  }
}
