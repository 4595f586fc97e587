import { expect, test } from "vitest";
import { fetchOnce } from "../../src/probes/http.ts";
import { measureLoad } from "../../src/probes/load.ts";
import { localServer } from "./local-server.ts";
import { replayContext, replayTransport } from "./replay.ts";

// A server that drops the connection without answering: every 3rd request on /flaky (as a Gunicorn worker
// recycled by --max-requests closes a kept-alive connection), every request on /dead.
let flaky = 0;
const server = localServer((req, res) => {
  if (req.url === "/dead" || (req.url === "/flaky" && ++flaky % 3 === 1)) return void req.socket.destroy();
  res.end("ok");
});

const ctx = () => replayContext(replayTransport({}), { timeouts: { commandMs: 1_000, httpMs: 1_000, dbMs: 1_000 } });

test("a connection dropped as we sent is tried once more on a new one", async () => {
  const c = ctx();
  flaky = 0;
  expect(await fetchOnce(c, server.url(), "/flaky")).toMatchObject({ status: 200, body: "ok" });
  await c.close();
});

test("a server that drops every connection is an error naming both tries, never a status", async () => {
  const c = ctx();
  const r = await fetchOnce(c, server.url(), "/dead");
  expect(r).toMatchObject({ error: expect.stringMatching(/^(UND_ERR_SOCKET|ECONNRESET) \(and (UND_ERR_SOCKET|ECONNRESET) on the first try\)$/) });
  await c.close();
});

test("under load, dropped connections are retried once; a dead path is all errors", async () => {
  flaky = 0;
  expect(await measureLoad(ctx(), server.url(), "/flaky", 60, 1, 5)).toMatchObject({ requests: 60, errorRate: 0 }); // one at a time: a retry never meets the next drop
  expect(await measureLoad(ctx(), server.url(), "/dead", 10, 2, 5)).toMatchObject({ requests: 10, errorRate: 1 });
});
