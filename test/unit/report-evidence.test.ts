import { describe, expect, test } from "vitest";
import { catalogue } from "../../src/checks/index.ts";
import { ConfigSchema } from "../../src/config/schema.ts";
import type { HttpResponse } from "../../src/probes/http.ts";
import { ATTACHMENT_MAX_BYTES, capText, describeResponse, gatherEvidence, planEvidence } from "../../src/report/evidence.ts";
import { replayContext, replayTransport } from "./replay.ts";

const config = ConfigSchema.parse({});
const SECRET = "pw$50%off'quote\"d-Secret-Value";

describe("planEvidence", () => {
  test("service checks get the journal and the unit file; http checks the requests they send", () => {
    expect(planEvidence({ id: "SVC-001" }, config).map((k) => k.kind)).toEqual(["journal", "unit"]);
    expect(planEvidence({ id: "SVC-014" }, config)).toEqual([{ kind: "command", argv: ["nginx", "-t"] }]);
    expect(planEvidence({ id: "SVC-012" }, config)).toEqual([
      { kind: "status", unit: "postgresql.service" },
      { kind: "unit", unit: "postgresql.service" },
    ]);
    const http = planEvidence({ id: "HTTP-005" }, config);
    expect(http).toEqual([{ kind: "http", requests: [{ base: "http://127.0.0.1:8000", path: "/health", host: "ddv-not-allowed.invalid" }] }]);
    // The health checks ask every path with GET and the first with HEAD, as the check does (so the memo answers).
    const health = planEvidence({ id: "HTTP-001" }, config).find((k) => k.kind === "http");
    expect(health && "requests" in health ? health.requests.map((r) => `${r.method ?? "GET"} ${r.path}`) : []).toEqual([
      "GET /health",
      "GET /health/",
      "GET /api/health",
      "HEAD /health",
    ]);
  });

  test("without nginx, nothing is planned against it", () => {
    const noNginx = ConfigSchema.parse({ nginxUrl: null, dependencies: { nginx: null } });
    expect(planEvidence({ id: "HTTP-002" }, noNginx)).toEqual([]);
    expect(planEvidence({ id: "SVC-014" }, noNginx)).toEqual([]);
    expect(planEvidence({ id: "SEC-005" }, noNginx)).toEqual([{ kind: "http", requests: [{ base: "http://127.0.0.1:8000", path: "/health" }] }]);
  });

  test("every check ID it names exists in the catalogue", () => {
    const ids = new Set(catalogue.map((c) => c.id));
    const planned = catalogue.filter((c) => planEvidence(c, config).length).map((c) => c.id);
    expect(planned.every((id) => ids.has(id))).toBe(true);
    expect(planned.length).toBeGreaterThan(25);
  });
});

describe("capText", () => {
  test("keeps short text and cuts long text to the cap, saying how much was cut", () => {
    expect(capText("short")).toBe("short");
    const long = "x".repeat(40_000);
    const start = capText(long);
    expect(Buffer.byteLength(start)).toBeLessThanOrEqual(ATTACHMENT_MAX_BYTES);
    expect(start).toMatch(/\[\.\.\. \d+ more bytes cut \.\.\.\]$/);
    const end = capText(`${"old\n".repeat(10_000)}newest line`, 1024, "end");
    expect(Buffer.byteLength(end)).toBeLessThanOrEqual(1024);
    expect(end).toMatch(/^\[\.\.\. \d+ earlier bytes cut \.\.\.\]\n/);
    expect(end.endsWith("newest line")).toBe(true);
  });

  test("never leaves half a multi-byte character", () => {
    const cut = capText("é".repeat(1000), 101);
    expect(cut).not.toContain("\uFFFD");
  });
});

describe("describeResponse", () => {
  test("prints the request, the status line with its reason and every header", () => {
    const r: HttpResponse = {
      url: "http://127.0.0.1:8000/health",
      status: 400,
      headers: { server: "gunicorn", "content-type": "text/html" },
      body: "x",
      bytes: 143,
      ms: 131.2,
    };
    expect(describeResponse({ base: "http://127.0.0.1:8000", path: "/health" }, "localhost", r)).toBe(
      "GET http://127.0.0.1:8000/health (Host: localhost)\nHTTP/1.1 400 Bad Request\nserver: gunicorn\ncontent-type: text/html\n(143 bytes of body in 131 ms)",
    );
    expect(describeResponse({ base: "b", path: "/", method: "HEAD" }, "localhost", { url: "http://x/", error: "ECONNREFUSED", ms: 2 })).toBe(
      "HEAD http://x/ (Host: localhost)\nno answer after 2 ms: ECONNREFUSED",
    );
  });
});

describe("gatherEvidence", () => {
  test("runs the check's command once, redacts the session's secrets (raw and URL-encoded) and caps the output", async () => {
    const t = replayTransport({
      "nginx -t": { exitCode: 1, stderr: `nginx: [emerg] unknown directive "${SECRET}" and ${encodeURIComponent(SECRET)}\n${"y".repeat(40_000)}` },
    });
    const ctx = replayContext(t);
    const [e] = await gatherEvidence(ctx, { id: "SVC-014" }, [SECRET]);
    expect(e?.name).toBe("nginx -t");
    expect(e?.text.startsWith('$ nginx -t\n(exit 1)\n--- stderr ---\nnginx: [emerg] unknown directive "[REDACTED]" and [REDACTED]')).toBe(true);
    expect(e?.text).not.toContain(SECRET);
    expect(Buffer.byteLength(e?.text ?? "")).toBeLessThanOrEqual(ATTACHMENT_MAX_BYTES);
    await gatherEvidence(ctx, { id: "SVC-014" }, [SECRET]);
    expect(t.calls.filter((c) => c[0] === "nginx")).toHaveLength(1);
  });

  test("reuses the answers the check already received (no new request) and redacts headers", async () => {
    const ctx = replayContext(replayTransport({}));
    const answer: HttpResponse = {
      url: "http://127.0.0.1:8000/api/v1/suppliers/",
      status: 200,
      headers: { "set-cookie": `token=${SECRET}` },
      body: "[]",
      bytes: 2,
      ms: 5,
    };
    // The memo key fetchCached uses: the check's own request.
    void ctx.once("http:GET::http://127.0.0.1:8000/api/v1/suppliers/", async () => answer);
    const pieces = await gatherEvidence(ctx, { id: "HTTP-004" }, [SECRET]);
    const http = pieces.find((p) => p.name === "HTTP status lines and headers");
    expect(http?.text).toContain("HTTP/1.1 200 OK\nset-cookie: token=[REDACTED]");
  });

  test("a piece that cannot be gathered says why instead of throwing", async () => {
    const pieces = await gatherEvidence(replayContext(replayTransport({})), { id: "SVC-014" }, []);
    expect(pieces).toEqual([{ name: "nginx -t", text: expect.stringMatching(/^could not gather: nginx could not run/) }]);
  });
});
