import type { Config } from "../config/schema.ts";
import { TransportError } from "../transport/types.ts";
import type { ProbeContext } from "./context.ts";
import type { HttpResult } from "./http.ts";

const LIST_TIMEOUT_MS = 20_000;
// Lines of the STATIC_ROOT listing read at most; a larger tree is an error, never a silent partial sample.
const LIST_CAP = 100_000;

export type StaticSample = { ext: string; rel: string; size: number };

// The content types nginx's mime.types (and common variants) give each kind of collected file. A kind not listed
// here only has to be something other than an HTML page.
const TYPES: Record<string, RegExp> = {
  css: /^text\/css/,
  js: /^(application|text)\/(x-)?javascript/,
  mjs: /^(application|text)\/(x-)?javascript/,
  svg: /^image\/svg\+xml/,
  png: /^image\/png/,
  gif: /^image\/gif/,
  jpg: /^image\/jpeg/,
  jpeg: /^image\/jpeg/,
  webp: /^image\/webp/,
  ico: /^image\/(x-icon|vnd\.microsoft\.icon)/,
  woff: /^(font\/woff|application\/(x-)?font-woff)$/,
  woff2: /^(font\/woff2|application\/(x-)?font-woff2)$/,
  ttf: /^(font\/ttf|font\/sfnt|application\/(x-font-ttf|x-font-truetype|font-sfnt|octet-stream))$/,
  otf: /^(font\/otf|font\/sfnt|application\/(x-font-opentype|font-sfnt|octet-stream))$/,
  eot: /^application\/(vnd\.ms-fontobject|octet-stream)$/,
  json: /^application\/(json|octet-stream)/,
  map: /^application\/(json|octet-stream)/,
  html: /^text\/html/,
  htm: /^text\/html/,
  txt: /^text\/plain/,
};

// The URL prefix nginx serves STATIC_ROOT at: staticPath without its staticProbeFile ("/django_static/").
export function staticUrlPrefix(config: Pick<Config, "staticPath" | "staticProbeFile">): string {
  const { staticPath, staticProbeFile } = config;
  if (staticProbeFile && staticPath.endsWith(`/${staticProbeFile}`)) return staticPath.slice(0, -staticProbeFile.length);
  // staticPath names a file somewhere else: its first path segment is the prefix (/static/x.css -> /static/).
  const first = staticPath.split("/")[1];
  return first ? `/${first}/` : "/";
}

// One file per extension from a `find -printf '%s\t%P\n'` listing: the first non-empty file in path order (an empty
// one only when every file of that kind is empty), extensions lowercased, files without one left out.
export function sampleByExtension(listing: string): StaticSample[] {
  const rows = listing
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const tab = l.indexOf("\t");
      return { size: Number(l.slice(0, tab)), rel: l.slice(tab + 1) };
    })
    .sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  const chosen = new Map<string, StaticSample>();
  for (const { size, rel } of rows) {
    const m = rel
      .split("/")
      .pop()
      ?.match(/.\.([A-Za-z0-9]+)$/);
    if (!m) continue;
    const ext = (m[1] as string).toLowerCase();
    const had = chosen.get(ext);
    if (!had || (had.size === 0 && size > 0)) chosen.set(ext, { ext, rel, size });
  }
  return [...chosen.values()].sort((a, b) => (a.ext < b.ext ? -1 : 1));
}

// Lists STATIC_ROOT once (regular files, its own filesystem) and samples one file per extension.
export function staticSample(ctx: ProbeContext): Promise<StaticSample[]> {
  return ctx.once("static:sample", async () => {
    const root = ctx.config.staticRoot;
    // find's own status comes back on stderr; head stops it one line past the cap (SIGPIPE, 141).
    const script = 'find -H "$1" -xdev -type f -printf "%s\\t%P\\n"; echo "find-exit $?" >&2';
    const r = await ctx.transport.run(["sh", "-c", `{ ${script}; } | head -n "$2"`, "sh", root, String(LIST_CAP + 1)], { timeoutMs: LIST_TIMEOUT_MS });
    return parseStaticListing(r.stdout, r.stderr, root);
  });
}

// Reads staticSample's listing; a failed or over-long find is an error (we would sample a part of the tree).
export function parseStaticListing(stdout: string, stderr: string, root: string): StaticSample[] {
  const status = Number(stderr.match(/^find-exit (\d+)$/m)?.[1] ?? Number.NaN);
  const why = stderr
    .split("\n")
    .filter((l) => l && !l.startsWith("find-exit"))
    .slice(0, 2)
    .join(" | ");
  const lines = stdout.split("\n").filter(Boolean);
  if (lines.length > LIST_CAP) throw new TransportError(`more than ${LIST_CAP} files under ${root}: not sampled`, "E2BIG");
  if (status !== 0)
    throw new TransportError(`listing ${root} failed (${Number.isNaN(status) ? "did not finish" : `exit ${status}`}): ${why || "no message"}`, "EFIND");
  return sampleByExtension(stdout);
}

// What is wrong with nginx's answer for one sampled static file, or undefined: 200, a content type that fits the
// extension (never an HTML page for a non-HTML file), and exactly the file's size in bytes.
export function staticAnswerProblem(s: StaticSample, r: HttpResult): string | undefined {
  if ("error" in r) return `${s.ext}: ${r.url}: ${r.error}`;
  const type = (r.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (r.status !== 200) return `${s.ext}: ${r.url}: HTTP ${r.status} (${type || "no content type"}, ${r.bytes} bytes)`;
  const fits = TYPES[s.ext]?.test(type) ?? (type !== "text/html" || ["html", "htm"].includes(s.ext));
  if (!fits) return `${s.ext}: ${r.url}: 200 but Content-Type ${type || "(none)"}`;
  if (r.bytes !== s.size) return `${s.ext}: ${r.url}: 200 but ${r.bytes} bytes, the file has ${s.size}`;
  return undefined;
}
