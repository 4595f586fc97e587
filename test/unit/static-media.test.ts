import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { missingSecurityHeaders } from "../../src/checks/security.ts";
import { parseMediaListing, urlUnder } from "../../src/probes/media.ts";
import { parseStaticListing, sampleByExtension, staticAnswerProblem, staticUrlPrefix } from "../../src/probes/static-files.ts";
import { catalogue } from "../../src/checks/index.ts";
import { healthyCommands } from "./healthy-replay.ts";
import { recorded, replayContext, replayTransport } from "./replay.ts";

type Answer = { path: string; status: number; type: string; bytes: number };
const rec = JSON.parse(recorded("nginx-static-media-answers.json")) as Record<string, Answer[] & Record<string, string>>;
const listing = recorded("static-root-listing.txt");
const asShipped = rec["as-shipped static"] as Answer[];
const reference = rec["reference static"] as Answer[];

describe("the static sample: one file per extension from STATIC_ROOT's listing", () => {
  test("recorded collectstatic tree: ten kinds, first non-empty file of each in path order", () => {
    const s = sampleByExtension(listing);
    expect(s.map((x) => x.ext)).toEqual(["css", "eot", "ico", "js", "map", "png", "svg", "ttf", "woff", "woff2"]);
    expect(s.map((x) => `/django_static/${x.rel}`)).toEqual(asShipped.map((a) => a.path));
    expect(s.find((x) => x.ext === "svg")).toEqual({ ext: "svg", rel: "admin/img/calendar-icons.svg", size: 1094 });
  });

  test("order of the listing does not change the sample; empty files only when nothing else exists; no extension, no kind", () => {
    const shuffled = listing.split("\n").filter(Boolean).reverse().join("\n");
    expect(sampleByExtension(shuffled)).toEqual(sampleByExtension(listing));
    expect(sampleByExtension("0\ta/empty.css\n10\tb/full.css\n5\tLICENSE\n3\t.hidden\n")).toEqual([{ ext: "css", rel: "b/full.css", size: 10 }]);
  });

  test("a failing or over-long find is an error, not a smaller sample", () => {
    expect(() => parseStaticListing("", "find: '/x': No such file or directory\nfind-exit 1\n", "/x")).toThrow(/listing \/x failed \(exit 1\): find: '\/x'/);
    expect(() => parseStaticListing("1\ta.css\n".repeat(100_001), "find-exit 141\n", "/x")).toThrow(/more than 100000 files/);
    expect(parseStaticListing(listing, "find-exit 0\n", "/x")).toHaveLength(10);
  });

  test("the URL prefix is staticPath without the probe file", () => {
    expect(staticUrlPrefix({ staticPath: "/django_static/admin/css/base.css", staticProbeFile: "admin/css/base.css" })).toBe("/django_static/");
    expect(staticUrlPrefix({ staticPath: "/static/x.css", staticProbeFile: "admin/css/base.css" })).toBe("/static/");
    expect(urlUnder("/media/", "a b/c#1.pdf")).toBe("/media/a%20b/c%231.pdf");
  });
});

describe("judging nginx's answer for a sampled static file", () => {
  const sample = sampleByExtension(listing);
  const as = (a: Answer) => ({ url: `http://127.0.0.1${a.path}`, status: a.status, headers: { "content-type": a.type }, body: "", bytes: a.bytes, ms: 1 });

  test("recorded as-shipped answers: the icon regex's 404s for ico, png and svg, nothing else", () => {
    const problems = sample.flatMap((s, i) => staticAnswerProblem(s, as(asShipped[i] as Answer)) ?? []);
    expect(problems).toEqual([
      "ico: http://127.0.0.1/django_static/rest_framework/docs/img/favicon.ico: HTTP 404 (text/html, 153 bytes)",
      "png: http://127.0.0.1/django_static/rest_framework/docs/img/grid.png: HTTP 404 (text/html, 153 bytes)",
      "svg: http://127.0.0.1/django_static/admin/img/calendar-icons.svg: HTTP 404 (text/html, 153 bytes)",
    ]);
  });

  test("recorded reference answers: every kind fits (ttf and map as application/octet-stream included)", () => {
    expect(sample.flatMap((s, i) => staticAnswerProblem(s, as(reference[i] as Answer)) ?? [])).toEqual([]);
  });

  test("an SPA page for a static path, a wrong size and a lost request are problems", () => {
    const svg = sample.find((s) => s.ext === "svg")!;
    expect(staticAnswerProblem(svg, as({ path: "/x.svg", status: 200, type: "text/html", bytes: 1094 }))).toBe(
      "svg: http://127.0.0.1/x.svg: 200 but Content-Type text/html",
    );
    expect(staticAnswerProblem(svg, as({ path: "/x.svg", status: 200, type: "image/svg+xml", bytes: 10 }))).toBe(
      "svg: http://127.0.0.1/x.svg: 200 but 10 bytes, the file has 1094",
    );
    expect(staticAnswerProblem({ ext: "xyz", rel: "a.xyz", size: 3 }, as({ path: "/a.xyz", status: 200, type: "text/html", bytes: 3 }))).toMatch(
      /Content-Type text\/html/,
    );
    expect(staticAnswerProblem(svg, { url: "http://127.0.0.1/x.svg", error: "ECONNREFUSED", ms: 1 })).toBe("svg: http://127.0.0.1/x.svg: ECONNREFUSED");
  });
});

describe("security headers on media answers", () => {
  test("recorded 404 for a missing upload: the reference's always-headers are there, the as-shipped site's are not", () => {
    expect(missingSecurityHeaders(rec["reference media 404 headers"] as unknown as Record<string, string>)).toEqual([]);
    expect(missingSecurityHeaders(rec["as-shipped media 404 headers"] as unknown as Record<string, string>)).toEqual([
      "x-content-type-options",
      "x-frame-options",
    ]);
  });

  test("media listing: capped listings sample the first files; a failing find is an error", () => {
    expect(parseMediaListing("", "find-exit 0\n", "/m")).toEqual({ files: [], listed: 0, capped: false });
    const many = Array.from({ length: 2001 }, (_, i) => `5\tu/${i}.pdf`).join("\n");
    expect(parseMediaListing(many, "find-exit 141\n", "/m")).toMatchObject({ listed: 2000, capped: true, files: [{ ext: "pdf" }] });
    expect(() => parseMediaListing("", "find-exit 1\n", "/m")).toThrow(/listing \/m failed/);
  });
});

// nginx stand-in: answers each recorded path with the recorded status, type and body size, media with the given headers.
function fakeNginx(answers: Answer[], headers: Record<string, string>, upload?: { path: string; headers: Record<string, string> }) {
  return createServer((req, res) => {
    const path = req.url ?? "";
    const a = answers.find((x) => x.path === path);
    const base = { ...headers };
    delete base["content-length"];
    delete base.connection;
    if (upload && path === upload.path) return res.writeHead(200, { ...upload.headers, "content-type": "application/pdf" }).end("%PDF-1.4\n");
    if (a) return res.writeHead(a.status, { "content-type": a.type, ...(path.endsWith("base.css") ? base : {}) }).end(Buffer.alloc(a.bytes, 120));
    if (path === "/django_static/admin/css/base.css") return res.writeHead(200, { ...base, "content-type": "text/css" }).end("body{}");
    return res.writeHead(404, { ...base }).end("<html><head><title>404 Not Found</title></head></html>");
  });
}

describe("HTTP-008 and SEC-004 against recorded nginx answers", () => {
  let server: Server;
  let url = "";
  const listen = async (s: Server) => {
    server = s;
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const close = () => new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  const run = async (
    id: string,
    files: Record<string, string | import("../../src/transport/types.ts").FileStat> = {},
    sh = { stdout: listing, stderr: "find-exit 0\n" },
  ) => {
    // FS-004's probe file exists, as on the hosts recorded.
    const t = replayTransport({ ...healthyCommands(), sh }, { "/opt/projectmeats/backend/staticfiles/admin/css/base.css": "body{}", ...files });
    // The check's own run(): its dependencies (SVC-004 reads /proc) are not what is tested here.
    const check = catalogue.find((c) => c.id === id)!;
    const ctx = replayContext(t, { nginxUrl: url });
    try {
      const v = await check.run(ctx);
      return { status: v.pass ? "pass" : "fail", observed: v.observed };
    } finally {
      await ctx.close();
    }
  };

  describe("as shipped", () => {
    beforeAll(() => listen(fakeNginx(asShipped, rec["as-shipped media 404 headers"] as unknown as Record<string, string>)));
    afterAll(close);

    test("HTTP-008 fails naming the three shadowed kinds", async () => {
      const r = await run("HTTP-008");
      expect(r).toMatchObject({ status: "fail" });
      expect(r?.observed).toMatch(
        /^3 of 10 kinds not served: ico: .*favicon\.ico: HTTP 404 \(text\/html, 153 bytes\); png: .*grid\.png: HTTP 404.*; svg: .*calendar-icons\.svg: HTTP 404/,
      );
    });

    test("SEC-004 fails on the static file and on the media location (no upload: the missing upload's answer)", async () => {
      const r = await run("SEC-004");
      expect(r).toMatchObject({
        status: "fail",
        observed:
          "static /django_static/admin/css/base.css lacks x-content-type-options, x-frame-options; media /media/ddv-no-such-upload (HTTP 404; no upload under /opt/projectmeats/backend/media) lacks x-content-type-options, x-frame-options",
      });
    });
  });

  describe("reference", () => {
    const refHeaders = rec["reference media 404 headers"] as unknown as Record<string, string>;
    beforeAll(() => listen(fakeNginx(reference, refHeaders, { path: "/media/invoices/ddv-invoice-0001.pdf", headers: { "cache-control": "public" } })));
    afterAll(close);

    test("HTTP-008 passes with every kind served", async () => {
      expect(await run("HTTP-008")).toMatchObject({
        status: "pass",
        observed: "10 kinds served by nginx under /django_static/ with a fitting type and the file's size: css, eot, ico, js, map, png, svg, ttf, woff, woff2",
      });
    });

    test("SEC-004 passes on the missing upload's 404 that carries the always-headers", async () => {
      expect(await run("SEC-004")).toMatchObject({ status: "pass" });
    });

    test("SEC-004 judges a real upload over the 404: an upload without nosniff fails", async () => {
      const dir = { mode: 0o40775, uid: 999, gid: 33, isDirectory: true, isFile: false, size: 4096 };
      const r = await run("SEC-004", { "/opt/projectmeats/backend/media": dir }, { stdout: "19\tinvoices/ddv-invoice-0001.pdf\n", stderr: "find-exit 0\n" });
      expect(r).toMatchObject({ status: "fail", observed: "media upload /media/invoices/ddv-invoice-0001.pdf lacks x-content-type-options, x-frame-options" });
    });
  });
});
