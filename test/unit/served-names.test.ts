import path from "node:path";
import { describe, expect, test } from "vitest";
import { checkById } from "../../src/checks/index.ts";
import { servedNameProblem } from "../../src/checks/http.ts";
import { parseEndpoint } from "../../src/probes/endpoint.ts";
import type { HttpResponse, HttpResult } from "../../src/probes/http.ts";
import {
  blockFor,
  blocksOn,
  expandIncludes,
  nginxSites,
  parseConfig,
  parseListen,
  parseTarget,
  type ServerBlock,
  serverBlocks,
  siteBlocks,
  skippedName,
  splitDump,
} from "../../src/probes/nginx-sites.ts";
import { localServer } from "./local-server.ts";
import { recorded, replayContext, replayTransport } from "./replay.ts";

// `nginx -T` recorded on the reference hosts (test/recorded/nginx-T-*.txt): the three flavours, and the reference
// host with an extra site and upstream file added (catch-all, regex and wildcard names, other ports, a variable).
const blocksOf = (name: string) => {
  const files = splitDump(recorded(`nginx-T-${name}.txt`));
  return serverBlocks(expandIncludes(files, [...files.keys()][0] as string));
};
const TCP = parseEndpoint("http://127.0.0.1:8000", "test");

describe("reading nginx -T", () => {
  test("the dump is split into its files, in the order nginx read them", () => {
    const files = splitDump(recorded("nginx-T-tutorial.txt"));
    expect([...files.keys()]).toEqual([
      "/etc/nginx/nginx.conf",
      "/etc/nginx/modules-enabled/50-mod-http-echo.conf",
      "/etc/nginx/mime.types",
      "/etc/nginx/sites-enabled/myproject",
      "/etc/nginx/proxy_params",
    ]);
    expect(files.get("/etc/nginx/proxy_params")).toContain("\nproxy_set_header Host $host;\n");
  });

  test("reference: one server block, its names, listen 80 default_server, proxy_pass through the upstream to 127.0.0.1:8000", () => {
    expect(blocksOf("reference")).toEqual([
      {
        at: "/etc/nginx/sites-enabled/projectmeats:6",
        names: ["meatscentral.com", "www.meatscentral.com", "localhost"],
        listens: [{ port: 80, defaultServer: true }],
        targets: [
          { host: "127.0.0.1", port: 8000 },
          { host: "127.0.0.1", port: 8000 },
        ],
        unresolved: [],
        digest: expect.stringMatching(/^[0-9a-f]{64}$/),
      },
    ]);
  });

  test("pm-socket: the upstream's unix socket; tutorial: proxy_pass http://unix:/run/gunicorn.sock, with include proxy_params expanded", () => {
    const [sock] = blocksOf("pm-socket");
    expect(sock).toMatchObject({
      at: "/etc/nginx/sites-enabled/projectmeats:8",
      names: ["meatscentral.com", "www.meatscentral.com"],
      listens: [{ port: 80, defaultServer: false }],
    });
    expect(new Set(sock?.targets.map((t) => JSON.stringify(t)))).toEqual(new Set([JSON.stringify({ unix: "/run/projectmeats.sock" })]));
    expect(blocksOf("tutorial")).toEqual([
      {
        at: "/etc/nginx/sites-enabled/myproject:1",
        names: ["tutorial.example"],
        listens: [{ port: 80, defaultServer: false }],
        targets: [{ unix: "/run/gunicorn.sock" }],
        unresolved: [],
        digest: expect.stringMatching(/^[0-9a-f]{64}$/),
      },
    ]);
    const files = splitDump(recorded("nginx-T-tutorial.txt"));
    const http = expandIncludes(files, "/etc/nginx/nginx.conf").find((d) => d.name === "http");
    const site = http?.block?.find((d) => d.name === "server");
    const location = site?.block?.find((d) => d.name === "location" && d.args[0] === "/");
    expect(location?.block?.map((d) => `${d.name} ${d.at}`)).toContain("proxy_set_header /etc/nginx/proxy_params:30");
  });

  test("several sites: catch-all, regex (backslashes kept), wildcards, an upstream with comments and parameters, other ports, a variable", () => {
    const blocks = blocksOf("multi-site");
    expect(blocks.map((b) => [b.at, b.names])).toEqual([
      ["/etc/nginx/sites-enabled/projectmeats:6", ["meatscentral.com", "www.meatscentral.com", "localhost"]],
      ["/etc/nginx/sites-enabled/zz-multi:2", ["_", ""]],
      ["/etc/nginx/sites-enabled/zz-multi:9", ["api.example.org", "~^(?<sub>\\w+)\\.example\\.org$", "*.example.net", ".example.com"]],
      ["/etc/nginx/sites-enabled/zz-multi:19", ["secure.example.org"]],
      ["/etc/nginx/sites-enabled/zz-multi:25", ["static.example.org"]],
    ]);
    expect(blocks[1]?.listens).toEqual([
      { port: 80, defaultServer: false },
      { address: "[::]", port: 80, defaultServer: false },
    ]);
    expect(blocks[2]).toMatchObject({
      listens: [{ address: "127.0.0.1", port: 8081, defaultServer: true }],
      targets: [
        { host: "localhost", port: 8000 },
        { host: "127.0.0.1", port: 8001 },
      ],
    });
    expect(blocks[4]).toMatchObject({ targets: [], unresolved: ["http://$backend_var"] });
    expect(blocks.map((b) => b.names.map((n) => skippedName(n) ?? "probed"))).toEqual([
      ["probed", "probed", "probed"],
      ["_ (catch-all placeholder)", '"" (requests without a Host)'],
      ["probed", "~^(?<sub>\\w+)\\.example\\.org$ (regular expression)", "*.example.net (wildcard)", ".example.com (wildcard)"],
      ["probed"],
      ["probed"],
    ]);
  });

  test("the tokenizer: comments, quotes with ; and braces, ${var}, escapes, line numbers; unbalanced braces are an error naming the line", () => {
    const ds = parseConfig("# a { comment\nserver { # x }\n  set $a \"b;{c}\"; add_header X ${host}y; return 200 'it\\'s';\n}\n", "/f");
    expect(ds).toEqual([
      {
        name: "server",
        args: [],
        at: "/f:2",
        block: [
          { name: "set", args: ["$a", "b;{c}"], at: "/f:3" },
          { name: "add_header", args: ["X", "${host}y"], at: "/f:3" },
          { name: "return", args: ["200", "it's"], at: "/f:3" },
        ],
      },
    ]);
    expect(() => parseConfig("server {\n listen 80;\n", "/f")).toThrow("/f:3: unexpected end of file");
    expect(() => parseConfig("}\n", "/f")).toThrow('/f:1: unexpected "}"');
  });

  test("listen and proxy targets in their usual spellings", () => {
    expect(parseListen(["127.0.0.1:8080"])).toEqual({ address: "127.0.0.1", port: 8080, defaultServer: false });
    expect(parseListen(["[::]:443", "ssl", "default_server"])).toEqual({ address: "[::]", port: 443, defaultServer: true, ssl: true });
    expect(parseListen(["localhost"])).toEqual({ address: "localhost", port: 80, defaultServer: false });
    expect(parseListen(["unix:/run/nginx.sock"])).toEqual({ unix: "/run/nginx.sock", defaultServer: false });
    const none = new Map<string, string[]>();
    expect(parseTarget("http://unix:/run/gunicorn.sock:/app/", none)).toEqual([{ unix: "/run/gunicorn.sock" }]);
    expect(parseTarget("http://127.0.0.1:8000/", none)).toEqual([{ host: "127.0.0.1", port: 8000 }]);
    expect(parseTarget("https://backend.internal", none)).toEqual([{ host: "backend.internal", port: 443 }]);
    expect(parseTarget("127.0.0.1:8000", none)).toEqual([{ host: "127.0.0.1", port: 8000 }]);
    expect(parseTarget("http://$upstream", none)).toBeUndefined();
  });
});

describe("which server blocks are the site", () => {
  const multi = blocksOf("multi-site");
  const sites = { servers: multi, source: "nginx -T" };

  test("through http://127.0.0.1 (port 80): the block proxying to Gunicorn; blocks on other ports are named, not probed", () => {
    const s = siteBlocks(sites, TCP, "http://127.0.0.1", "localhost");
    expect(s.blocks.map((b) => b.at)).toEqual(["/etc/nginx/sites-enabled/projectmeats:6"]);
    expect(s.candidates.map((b) => b.at)).toEqual([
      "/etc/nginx/sites-enabled/projectmeats:6",
      "/etc/nginx/sites-enabled/zz-multi:2",
      "/etc/nginx/sites-enabled/zz-multi:25",
    ]);
    expect(s.elsewhere.map((b) => b.at)).toEqual(["/etc/nginx/sites-enabled/zz-multi:9", "/etc/nginx/sites-enabled/zz-multi:19"]);
    expect(s.fallback).toBe(false);
  });

  test("an exact listen address wins over the wildcard ones; localhost:8000 in an upstream is Gunicorn at 127.0.0.1:8000", () => {
    expect(blocksOn(multi, "http://127.0.0.1:8081").map((b) => b.at)).toEqual(["/etc/nginx/sites-enabled/zz-multi:9"]);
    expect(blocksOn(multi, "http://10.0.0.5:8081")).toEqual([]);
    expect(siteBlocks(sites, TCP, "http://127.0.0.1:8081", "api.example.org").blocks.map((b) => b.at)).toEqual(["/etc/nginx/sites-enabled/zz-multi:9"]);
  });

  test("nothing proxies to Gunicorn: the block serving hostHeader (by name, else default_server, else the first)", () => {
    const elsewhere = parseEndpoint("unix:/run/elsewhere.sock", "test");
    expect(siteBlocks(sites, elsewhere, "http://127.0.0.1", "static.example.org")).toMatchObject({
      fallback: true,
      blocks: [{ at: "/etc/nginx/sites-enabled/zz-multi:25" }],
    });
    expect(siteBlocks(sites, elsewhere, "http://127.0.0.1", "unknown.example")).toMatchObject({
      fallback: true,
      blocks: [{ at: "/etc/nginx/sites-enabled/projectmeats:6" }],
    });
    const noDefault = multi.slice(1);
    expect(blockFor(blocksOn(noDefault, "http://127.0.0.1"), "unknown.example")?.at).toBe("/etc/nginx/sites-enabled/zz-multi:2");
  });

  test("each flavour's site is found from its own Gunicorn endpoint", () => {
    const of = (name: string, ep: string) => siteBlocks({ servers: blocksOf(name), source: "" }, parseEndpoint(ep, "t"), "http://127.0.0.1", "localhost");
    expect(of("reference", "http://127.0.0.1:8000")).toMatchObject({ fallback: false, blocks: [{ at: "/etc/nginx/sites-enabled/projectmeats:6" }] });
    expect(of("pm-socket", "unix:/run/projectmeats.sock")).toMatchObject({ fallback: false, blocks: [{ at: "/etc/nginx/sites-enabled/projectmeats:8" }] });
    expect(of("tutorial", "unix:/run/gunicorn.sock")).toMatchObject({ fallback: false, blocks: [{ at: "/etc/nginx/sites-enabled/myproject:1" }] });
    expect(of("reference", "http://127.0.0.1:8001").fallback).toBe(true);
  });
});

describe("judging one served name", () => {
  const [ref] = blocksOf("reference") as [ServerBlock];
  const site = { block: ref, candidates: [ref], names: ref.names, hostHeader: "localhost" };
  const answer = (status: number, type: string, body = "", headers: Record<string, string> = {}): HttpResponse => ({
    url: "http://127.0.0.1/health",
    status,
    headers: { "content-type": type, ...headers },
    body,
    bytes: body.length,
    ms: 1,
  });
  const healthy = answer(200, "application/json", '{"status": "healthy"}');
  const judge = (name: string, r: HttpResult, s = site) => servedNameProblem(name, r, healthy, s, (x) => `${x.url}: HTTP ${"status" in x ? x.status : "?"}`);

  test("the same kind of answer as hostHeader's passes", () => {
    expect(judge("meatscentral.com", answer(200, "application/json; charset=utf-8", '{"status":"healthy"}'))).toBeUndefined();
  });

  test("Django's 400 names the name, ALLOWED_HOSTS and the server block", () => {
    expect(judge("www.meatscentral.com", answer(400, "text/html", '\n<!doctype html>\n<html lang="en">\n<head>\n  <title>Bad Request (400)</title>'))).toBe(
      "www.meatscentral.com: HTTP 400 from Django (not in ALLOWED_HOSTS); served by server block at /etc/nginx/sites-enabled/projectmeats:6",
    );
    expect(judge("x.example", answer(400, "text/html", "<center><h1>400 Bad Request</h1></center>"))).toBe(
      "x.example: HTTP 400; served by server block at /etc/nginx/sites-enabled/projectmeats:6",
    );
  });

  test("another kind of answer is another server block (or app); a redirect to another served name is fine", () => {
    expect(judge("meatscentral.com", answer(200, "text/html", "<html>SPA</html>"))).toBe(
      "meatscentral.com: 2xx text/html where Host: localhost gets 2xx application/json (another server block or app answers it); served by server block at /etc/nginx/sites-enabled/projectmeats:6",
    );
    expect(judge("meatscentral.com", answer(301, "text/html", "", { location: "http://www.meatscentral.com/health" }))).toBeUndefined();
    expect(judge("meatscentral.com", answer(301, "text/html", "", { location: "https://elsewhere.example/" }))).toMatch(
      /^meatscentral.com: 3xx text\/html where/,
    );
    expect(judge("meatscentral.com", { url: "http://127.0.0.1/health", error: "UND_ERR_SOCKET", ms: 1 })).toBe(
      "meatscentral.com: UND_ERR_SOCKET; served by server block at /etc/nginx/sites-enabled/projectmeats:6",
    );
  });

  test("a name an earlier block also claims lands there (nginx keeps the first)", () => {
    const earlier: ServerBlock = { ...ref, at: "/etc/nginx/sites-enabled/000-old:1", names: ["meatscentral.com"], targets: [] };
    expect(judge("meatscentral.com", healthy, { ...site, candidates: [earlier, ref] })).toBe(
      "meatscentral.com: lands on the server block at /etc/nginx/sites-enabled/000-old:1, which names it first (nginx ignores it in /etc/nginx/sites-enabled/projectmeats:6)",
    );
  });
});

describe("HTTP-009 against a stand-in nginx answering like the reference host", () => {
  // Host-dependent answers, as the reference host gives them when ALLOWED_HOSTS lost www.meatscentral.com.
  const refused = new Set<string>();
  const server = localServer((req, res) => {
    if (refused.has(req.headers.host ?? "")) {
      res.writeHead(400, { "content-type": "text/html" }).end("<!doctype html><title>Bad Request (400)</title><h1>Bad Request (400)</h1>");
      return;
    }
    if (req.url === "/health") {
      res.writeHead(301, { location: `http://${req.headers.host}/health/`, "content-type": "text/html" }).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end('{"status": "healthy"}');
  });
  const check = checkById("HTTP-009");
  // The recorded reference configuration, listening on the stand-in's port instead of 80.
  const dump = () => recorded("nginx-T-reference.txt").replace("listen 80 default_server;", `listen ${new URL(server.url()).port} default_server;`);
  const ctx = (commands: Parameters<typeof replayTransport>[0], t = replayTransport(commands)) =>
    replayContext(t, { nginxUrl: server.url(), gunicornUrl: "http://127.0.0.1:8000" });

  test("healthy: every name answers like Host: localhost, behind nginx's /health -> /health/ redirect", async () => {
    refused.clear();
    const v = await check.run(ctx({ "nginx -T": { stdout: dump() } }));
    expect(v).toMatchObject({ pass: true });
    expect(v.observed).toBe(
      "GET /health/: 3 names answer like Host: localhost (2xx application/json): meatscentral.com, www.meatscentral.com, localhost; server block /etc/nginx/sites-enabled/projectmeats:6 (proxying to Gunicorn at http://127.0.0.1:8000, from nginx -T)",
    );
  });

  test("a served name Django refuses is red, named, with the server block", async () => {
    refused.clear();
    refused.add("www.meatscentral.com");
    const v = await check.run(ctx({ "nginx -T": { stdout: dump() } }));
    expect(v.pass).toBe(false);
    expect(v.observed).toBe(
      `www.meatscentral.com: HTTP 400 from Django (not in ALLOWED_HOSTS); served by server block at /etc/nginx/sites-enabled/projectmeats:6 (GET /health/ through ${server.url()}, from nginx -T)`,
    );
  });

  test("nginx -T cannot run: an error, never a pass; exits 1 without refusing the config: an error naming it", async () => {
    await expect(check.run(ctx({}))).rejects.toThrow(/nginx could not run/);
    await expect(check.run(ctx({ "nginx -T": { exitCode: 1, stderr: "nginx: [alert] could not open error log file" } }))).rejects.toThrow(
      "nginx -T exited 1: nginx: [alert] could not open error log file",
    );
    await expect(check.run(ctx({ "nginx -T": { stdout: dump(), truncated: true } }))).rejects.toThrow(/more than 8 MiB/);
  });

  test("nginx refuses the files on disk (recorded stderr): they are read directly, following the includes", async () => {
    refused.clear();
    const files = Object.fromEntries(splitDump(dump()));
    files["/etc/nginx/sites-enabled/broken"] = "server {\n    listen 8080;\n    bogus_directive on;\n}\n";
    const t = replayTransport({ "nginx -T": { exitCode: 1, stderr: recorded("nginx-T-refused-stderr.txt") } }, files);
    t.readDir = async (dir) => Object.keys(files).flatMap((f) => (path.posix.dirname(f) === dir ? [path.posix.basename(f)] : []));
    const c = ctx({}, t);
    const v = await check.run(c);
    expect(v.pass, v.observed).toBe(true);
    expect(v.observed).toContain(
      'from the files on disk (nginx -T refused them: 2026/12/04 21:40:40 [emerg] 140#140: unknown directive "bogus_directive" in /etc/nginx/sites-enabled/broken:3)',
    );
    expect((await nginxSites(c)).servers.map((s) => s.at)).toEqual(["/etc/nginx/sites-enabled/broken:1", "/etc/nginx/sites-enabled/projectmeats:6"]);
  });

  test("several sites: blocks on other ports are named, not probed; with no block proxying to Gunicorn, hostHeader's block is judged", async () => {
    refused.clear();
    const multi = () => recorded("nginx-T-multi-site.txt").replace(/listen 80([ ;])/g, `listen ${new URL(server.url()).port}$1`);
    const run = (config: Record<string, unknown>) =>
      check.run(
        replayContext(replayTransport({ "nginx -T": { stdout: multi() } }), { nginxUrl: server.url(), gunicornUrl: "http://127.0.0.1:8000", ...config }),
      );
    expect((await run({})).observed).toBe(
      `GET /health/: 3 names answer like Host: localhost (2xx application/json): meatscentral.com, www.meatscentral.com, localhost; server block /etc/nginx/sites-enabled/projectmeats:6 (proxying to Gunicorn at http://127.0.0.1:8000, from nginx -T); not probed (not reached through ${server.url()}): /etc/nginx/sites-enabled/zz-multi:9 api.example.org ~^(?<sub>\\w+)\\.example\\.org$ *.example.net .example.com; /etc/nginx/sites-enabled/zz-multi:19 secure.example.org`,
    );
    expect((await run({ gunicornUrl: "unix:/run/elsewhere.sock", hostHeader: "_" })).observed).toBe(
      'GET /health/: no literal server_name to probe; server block /etc/nginx/sites-enabled/zz-multi:2 (none proxies to Gunicorn at unix:/run/elsewhere.sock: the one serving Host: _, from nginx -T); skipped: _ (catch-all placeholder), "" (requests without a Host)',
    );
  });

  test("nginx -T runs once per run however many times the sites are asked for", async () => {
    const t = replayTransport({ "nginx -T": { stdout: dump() } });
    const c = ctx({}, t);
    await Promise.all([nginxSites(c), nginxSites(c), check.run(c)]);
    expect(t.calls.filter((a) => a[0] === "nginx")).toHaveLength(1);
  });
});
