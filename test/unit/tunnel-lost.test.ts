import { expect, test } from "vitest";
import { ProbeContext } from "../../src/probes/context.ts";
import { catalogue } from "../../src/checks/index.ts";
import { fetchOnce } from "../../src/probes/http.ts";
import { httpConnect } from "../../src/probes/tunnel.ts";
import { TransportError, type SshTransport } from "../../src/transport/types.ts";
import { replayContext, replayTransport } from "./replay.ts";

// A forwarded socket that refuses because the ssh master has just died: the connect error names the lost connection
// (ESSH), so the check errors as "host lost" (never as the host's own ECONNREFUSED); while the master still answers,
// the connect error itself is kept.
test("a refused forward blames the lost ssh connection, and only when it is lost", async () => {
  const base = replayContext(replayTransport({}));
  const connectVia = async (lost: TransportError | undefined) => {
    const t = {
      ...replayTransport({}),
      kind: "ssh",
      forward: async () => "/nonexistent/ddv-forward.sock",
      lostConnection: async () => lost,
      dispose() {},
      roundTrips: 0,
      requests: 0,
    } as unknown as SshTransport;
    const connect = httpConnect(new ProbeContext(base.config, t), 1000) as (o: unknown, cb: (e: Error | null) => void) => void;
    return new Promise<Error | null>((resolve) => connect({ hostname: "127.0.0.1", port: "80", protocol: "http:" }, (e) => resolve(e)));
  };
  const gone = new TransportError("ssh to web1: the connection ended during the run (killed); not reconnecting", "ESSH");
  expect(await connectVia(gone)).toBe(gone);
  expect(((await connectVia(undefined)) as NodeJS.ErrnoException | null)?.code).toBe("ENOENT");
});

// The fleet kill test caught it: a request through a lost connection came back as { error: "ESSH" }, and HTTP-010
// read that as nginx refusing the static file (FAIL) instead of "could not check". Now the request rejects.
test("a request over a lost ssh connection rejects with the transport's error: a check errors, never fails", async () => {
  const base = replayContext(replayTransport({}));
  const gone = new TransportError("ssh to web1: the connection ended during the run (killed); not reconnecting", "ESSH");
  const t = {
    ...replayTransport({}),
    kind: "ssh",
    forward: async () => {
      throw gone;
    },
    lostConnection: async () => gone,
    dispose() {},
    roundTrips: 0,
    requests: 0,
  } as unknown as SshTransport;
  const ctx = new ProbeContext(base.config, t);
  await expect(fetchOnce(ctx, "http://127.0.0.1", "/django_static/admin/css/base.css")).rejects.toMatchObject({ code: "ESSH" });
  const http010 = catalogue.find((c) => c.id === "HTTP-010");
  await expect(http010?.run(ctx)).rejects.toBeInstanceOf(TransportError);
});
