import { describe, expect, test } from "vitest";
import { uvicornArgv, uvicornSettings } from "../../src/probes/uvicorn.ts";

// A plain Uvicorn unit read as the checks need it: where it listens and how many workers it runs.
describe("a Uvicorn ExecStart", () => {
  test("found as a program or as python -m uvicorn; Gunicorn with Uvicorn's worker is not Uvicorn's", () => {
    expect(uvicornArgv(["/usr/bin/uvicorn", "app.asgi:application"])).toEqual(["/usr/bin/uvicorn", "app.asgi:application"]);
    expect(uvicornArgv(["/opt/v/bin/python3", "-m", "uvicorn", "app.asgi:application", "--port", "9000"])).toEqual([
      "uvicorn",
      "app.asgi:application",
      "--port",
      "9000",
    ]);
    expect(uvicornArgv(["/opt/v/bin/gunicorn", "-k", "uvicorn.workers.UvicornWorker", "app.asgi:application"])).toBeUndefined();
  });

  test("bind from --host/--port (defaults 127.0.0.1:8000), --uds or --fd; workers from --workers, UVICORN_WORKERS, WEB_CONCURRENCY", () => {
    expect(uvicornSettings(["uvicorn", "a:b"], {})).toMatchObject({ bind: ["127.0.0.1:8000"], workers: 1, threads: 1, timeout: 0 });
    expect(uvicornSettings(["uvicorn", "a:b", "--host", "0.0.0.0", "--port=9000", "--workers", "4"], {})).toMatchObject({
      bind: ["0.0.0.0:9000"],
      workers: 4,
      explicit: ["host", "port", "workers"],
    });
    expect(uvicornSettings(["uvicorn", "a:b", "--uds", "/run/app.sock"], {}).bind).toEqual(["unix:/run/app.sock"]);
    expect(uvicornSettings(["uvicorn", "a:b"], { UVICORN_WORKERS: "3", UVICORN_HOST: "::1" })).toMatchObject({ bind: ["[::1]:8000"], workers: 3 });
    expect(uvicornSettings(["uvicorn", "a:b", "--workers", "2"], { UVICORN_WORKERS: "3" }).workers).toBe(2);
    expect(uvicornSettings(["uvicorn", "a:b"], { WEB_CONCURRENCY: "5" }).workers).toBe(5);
    expect(() => uvicornSettings(["uvicorn", "a:b", "--workers", "many"], {})).toThrow(/worker count from "many"/);
  });
});

describe("the SEC-007 fix on a Uvicorn ExecStart", async () => {
  const { loopbackUvicorn } = await import("../../src/remediation/fixes/unit.ts");
  test("every --host goes to loopback, nothing else changes; no --host: nothing to rewrite", () => {
    expect(loopbackUvicorn(["/v/bin/python", "-m", "uvicorn", "a:b", "--host", "0.0.0.0", "--port", "8000"])).toEqual([
      "/v/bin/python",
      "-m",
      "uvicorn",
      "a:b",
      "--host",
      "127.0.0.1",
      "--port",
      "8000",
    ]);
    expect(loopbackUvicorn(["uvicorn", "a:b", "--host=::"])).toEqual(["uvicorn", "a:b", "--host=::1"]);
    expect(loopbackUvicorn(["uvicorn", "a:b", "--port", "8000"])).toBeUndefined();
  });
});
