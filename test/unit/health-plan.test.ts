import { describe, expect, test } from "vitest";
import { ConfigSchema } from "../../src/config/schema.ts";
import { ProbeContext } from "../../src/probes/context.ts";
import { healthPlan, KNOWN_HEALTH_PATHS } from "../../src/probes/health-plan.ts";
import { createLocalTransport } from "../../src/transport/local.ts";
import { localServer } from "./local-server.ts";

// Zero-config health, asked of a real HTTP server standing in for Gunicorn: which paths the health checks judge.
let answers: Record<string, number> = {};
const app = localServer((req, res) => {
  res.writeHead(answers[req.url ?? ""] ?? 404, { "content-type": "text/html" });
  res.end("<title>x</title>");
});
const planFor = (extra: object = {}) =>
  healthPlan(new ProbeContext(ConfigSchema.parse({ gunicornUrl: app.url(), nginxUrl: null, ...extra }), createLocalTransport()));

describe("health paths when the config names none", () => {
  test("a known health path that exists is judged, even when it says unhealthy (never stepped around)", async () => {
    answers = { "/health/": 503, "/admin/login/": 200 };
    expect(await planFor()).toMatchObject({ paths: KNOWN_HEALTH_PATHS, source: "the known health paths" });
  });

  test("no health endpoint: the admin login page, status 200 and no JSON", async () => {
    answers = { "/admin/login/": 200, "/": 200 };
    const p = await planFor();
    expect(p).toMatchObject({ paths: ["/admin/login/"], health: { status: 200, json: false } });
    expect(p.source).toBe("/health, /health/, /api/health answer 404: the admin login page instead");
  });

  test("no health endpoint and no admin: / with the status it answers below 500; a 500 is expected to be 200", async () => {
    answers = { "/": 302 };
    expect(await planFor()).toMatchObject({ paths: ["/"], health: { status: 302, json: false } });
    answers = { "/": 500 };
    expect(await planFor()).toMatchObject({ paths: ["/"], health: { status: 200 } });
  });

  test("Django refusing the Host (400 everywhere) tells nothing: the known paths, saying why", async () => {
    answers = { "/health": 400, "/health/": 400, "/api/health": 400, "/admin/login/": 400, "/": 400 };
    const p = await planFor();
    expect(p.paths).toEqual(KNOWN_HEALTH_PATHS);
    expect(p.source).toBe("the known health paths (Django answers 400 for Host: localhost, so none could be told apart)");
  });

  test("the config's healthPaths are used as given, nothing asked", async () => {
    answers = {};
    expect(await planFor({ healthPaths: ["/up"] })).toMatchObject({ paths: ["/up"], source: "config healthPaths" });
  });

  test("Gunicorn unreachable: the known paths, so the health check reports the connection failure", async () => {
    const ctx = new ProbeContext(ConfigSchema.parse({ gunicornUrl: "http://127.0.0.1:9", nginxUrl: null }), createLocalTransport());
    expect((await healthPlan(ctx)).paths).toEqual(KNOWN_HEALTH_PATHS);
  });
});
