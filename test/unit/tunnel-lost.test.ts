import { expect, test } from "vitest";
import { ProbeContext } from "../../src/probes/context.ts";
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
