import { expect, test } from "vitest";
import { wrkPercentile, wrkRps } from "../../bench/load.ts";
import { measureLoad } from "../../src/probes/load.ts";
import { localServer } from "./local-server.ts";
import { recorded, replayContext, replayTransport } from "./replay.ts";

// A local server: /ok answers 200, /boom 503 (counted as errors), /slow never answers within the timeout.
const server = localServer((req, res) => {
  if (req.url === "/slow") return void setTimeout(() => res.end("late"), 2_000);
  res.statusCode = req.url === "/boom" ? 503 : 200;
  res.end(req.headers.host ?? "");
});

const ctx = () => replayContext(replayTransport({}), { timeouts: { commandMs: 1_000, httpMs: 300, dbMs: 1_000 } });

test("counts every request and no errors on a healthy path; percentiles are ordered", async () => {
  const s = await measureLoad(ctx(), server.url(), "/ok", 50, 4, 5);
  expect(s).toMatchObject({ path: "/ok", requests: 50, errorRate: 0 });
  expect(s.p50).toBeLessThanOrEqual(s.p95);
  expect(s.p95).toBeLessThanOrEqual(s.p99);
});

test("5xx answers and timeouts are errors, never successes", async () => {
  expect((await measureLoad(ctx(), server.url(), "/boom", 20, 2, 5)).errorRate).toBe(1);
  const slow = await measureLoad(ctx(), server.url(), "/slow", 2, 2, 5);
  expect(slow).toMatchObject({ requests: 2, errorRate: 1 });
});

test("stops at the time bound, whatever the request count", async () => {
  const t0 = performance.now();
  const s = await measureLoad(ctx(), server.url(), "/ok", Number.MAX_SAFE_INTEGER, 2, 0.3);
  expect(performance.now() - t0).toBeLessThan(2_000);
  expect(s.requests).toBeGreaterThan(0);
});

test("wrk's --latency output (recorded) reads as ms and requests per second", () => {
  const out = recorded("wrk-health-8c-5s.txt");
  expect(wrkRps(out)).toBe(897.51);
  expect(wrkPercentile(out, 50)).toBe(6.2);
  expect(wrkPercentile(out, 99)).toBe(699.28);
  expect(() => wrkPercentile("nothing", 50)).toThrow(/no 50% line/);
});
