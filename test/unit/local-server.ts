import { type RequestListener, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll } from "vitest";

// An HTTP server on a free loopback port for the file's tests; `url()` is its base URL once started.
export function localServer(handler: RequestListener): { url: () => string } {
  const server = createServer(handler);
  let base = "";
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: () => base };
}
