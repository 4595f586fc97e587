import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ConfigSchema } from "../../src/config/schema.ts";
import { ProbeContext } from "../../src/probes/context.ts";
import { connectAs } from "../../src/probes/nginx-worker.ts";
import { createLocalTransport } from "../../src/transport/local.ts";

// SVC-020's probe on a real socket, tried as another user (nobody) the way nginx's worker would try it: the
// socket's mode decides, and each kernel answer comes back by name. Needs root (setpriv changes the uid).
const ctx = new ProbeContext(ConfigSchema.parse({}), createLocalTransport());
const nobody = { uid: 65534, gid: 65534, groups: [] };
let dir = "";
let sock = "";
let server: Server;
beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "ddv-sock-"));
  chmodSync(dir, 0o755);
  sock = path.join(dir, "gunicorn.sock");
  server = createServer((c) => c.end());
  await new Promise<void>((resolve) => server.listen(sock, resolve));
});
afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(process.getuid?.() !== 0)("connect(2) to a unix socket as nginx's worker would", () => {
  test("mode 0600 shuts another user out (EACCES); 0666 lets it in", async () => {
    chmodSync(sock, 0o600);
    expect(await connectAs(ctx, nobody, sock)).toBe("EACCES");
    chmodSync(sock, 0o666);
    expect(await connectAs(ctx, nobody, sock)).toBe("ok");
  });

  test("a directory on the way that the user cannot search denies it too", async () => {
    chmodSync(dir, 0o700);
    try {
      expect(await connectAs(ctx, nobody, sock)).toBe("EACCES");
    } finally {
      chmodSync(dir, 0o755);
    }
  });

  test("no socket file (ENOENT) and a file nobody listens on (ECONNREFUSED) are told apart", async () => {
    expect(await connectAs(ctx, nobody, path.join(dir, "missing.sock"))).toBe("ENOENT");
    const stale = path.join(dir, "stale.sock");
    const s = createServer();
    await new Promise<void>((resolve) => s.listen(stale, resolve));
    chmodSync(stale, 0o666);
    // Node removes the file on close; a killed Gunicorn leaves it, so it is kept by renaming before close.
    const { renameSync } = await import("node:fs");
    const kept = path.join(dir, "kept.sock");
    renameSync(stale, kept);
    await new Promise<void>((resolve) => s.close(() => resolve()));
    expect(await connectAs(ctx, nobody, kept)).toBe("ECONNREFUSED");
  });
});
