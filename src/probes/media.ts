import { TransportError } from "../transport/types.ts";
import type { ProbeContext } from "./context.ts";
import { fetchCached, summarize, type HttpResponse } from "./http.ts";
import { sampleByExtension, type StaticSample } from "./static-files.ts";
import { serviceUnit } from "./systemd.ts";

// The config names no media location: Django's conventional MEDIA_URL, and MEDIA_ROOT as <WorkingDirectory>/media
// (ProjectMeats' settings: BASE_DIR / "media", BASE_DIR being the backend directory the unit starts in).
export const MEDIA_URL = "/media/";
const LIST_TIMEOUT_MS = 20_000;
const LIST_CAP = 2_000;
const SAMPLE_MAX = 5;

export type MediaSample = { root: string; url: string; files: StaticSample[]; listed: number; capped: boolean };

// Uploaded files to fetch: up to five, one per extension, from the first 2000 files find lists under the media root.
// A media root that does not exist holds no uploads (files: []); any other failure of find is an error.
export function mediaSample(ctx: ProbeContext): Promise<MediaSample> {
  return ctx.once("media:sample", async () => {
    const u = await serviceUnit(ctx);
    const root = `${u.workingDirectory || `${ctx.config.projectDir}/backend`}/media`;
    const st = await ctx.transport.stat(root);
    if (!st?.isDirectory) return { root, url: MEDIA_URL, files: [], listed: 0, capped: false };
    const script = 'find -H "$1" -xdev -type f -printf "%s\\t%P\\n"; echo "find-exit $?" >&2';
    const r = await ctx.transport.run(["sh", "-c", `{ ${script}; } | head -n "$2"`, "sh", root, String(LIST_CAP + 1)], { timeoutMs: LIST_TIMEOUT_MS });
    return { ...parseMediaListing(r.stdout, r.stderr, root), root, url: MEDIA_URL };
  });
}

// Reads mediaSample's listing: more files than the cap are sampled from the first ones (find died of SIGPIPE).
export function parseMediaListing(stdout: string, stderr: string, root: string): { files: StaticSample[]; listed: number; capped: boolean } {
  const status = Number(stderr.match(/^find-exit (\d+)$/m)?.[1] ?? Number.NaN);
  const lines = stdout.split("\n").filter(Boolean);
  const capped = lines.length > LIST_CAP;
  if (!capped && status !== 0) {
    const why = stderr
      .split("\n")
      .filter((l) => l && !l.startsWith("find-exit"))
      .slice(0, 2)
      .join(" | ");
    throw new TransportError(`listing ${root} failed (${Number.isNaN(status) ? "did not finish" : `exit ${status}`}): ${why || "no message"}`, "EFIND");
  }
  const kept = lines.slice(0, LIST_CAP);
  return { files: sampleByExtension(kept.join("\n")).slice(0, SAMPLE_MAX), listed: kept.length, capped };
}

// The URL path of a file under a URL prefix, each segment percent-encoded.
export function urlUnder(prefix: string, rel: string): string {
  return prefix + rel.split("/").map(encodeURIComponent).join("/");
}

// A path under the media URL that no upload has: nginx's answer for it is judged when no real upload is served.
export const MISSING_UPLOAD = "ddv-no-such-upload";

export type MediaAnswers = { judged: HttpResponse[]; unserved: string[]; sample: MediaSample };

// nginx's answers for user-uploaded media: every sampled upload it serves (200), or, when it serves none, its answer
// for a missing upload under the media URL. Uploads answered otherwise are listed as unserved. A lost request throws.
export async function mediaAnswers(ctx: ProbeContext, base: string): Promise<MediaAnswers> {
  const sample = await mediaSample(ctx);
  const rs = await Promise.all(sample.files.map((f) => fetchCached(ctx, base, urlUnder(sample.url, f.rel))));
  const lost = rs.find((r) => "error" in r);
  if (lost) throw new Error(summarize(ctx, lost));
  const answers = rs as HttpResponse[];
  const judged = answers.filter((r) => r.status === 200);
  const unserved = answers.filter((r) => r.status !== 200).map((r) => `${new URL(r.url).pathname} ${r.status}`);
  if (judged.length) return { judged, unserved, sample };
  const miss = await fetchCached(ctx, base, `${sample.url}${MISSING_UPLOAD}`);
  if ("error" in miss) throw new Error(summarize(ctx, miss));
  return { judged: [miss], unserved, sample };
}
