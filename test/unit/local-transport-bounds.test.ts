import { execFileSync } from "node:child_process";
import { mkdtempSync, openSync, closeSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { createLocalTransport } from "../../src/transport/local.ts";

describe("local transport: bounded output and bounded file calls", () => {
  const t = createLocalTransport(500);
  const dir = mkdtempSync(path.join(os.tmpdir(), "ddv-fifo-"));
  const fifo = path.join(dir, "hung");
  execFileSync("mkfifo", [fifo]);

  afterAll(() => {
    // Unblock the open() still waiting in a libuv thread: a writer arrives, the reader gets EOF.
    try {
      closeSync(openSync(fifo, "w"));
    } catch {}
    rmSync(dir, { recursive: true, force: true });
  });

  test("output over the cap is cut and reported as truncated, not silently", async () => {
    const r = await t.run(["sh", "-c", "yes 0123456789 | head -c 100000"], { maxOutputBytes: 1000 });
    expect(r.truncated).toBe(true);
    expect(r.stdout).toHaveLength(1000);
    expect(r.exitCode).toBe(0);
    const small = await t.run(["echo", "hi"]);
    expect(small.truncated).toBeUndefined();
  });

  test("a read that hangs (a FIFO without a writer, like a hung NFS mount) rejects with ETIMEDOUT", async () => {
    const started = Date.now();
    await expect(t.readFile(fifo)).rejects.toMatchObject({ name: "TransportError", code: "ETIMEDOUT", message: `reading ${fifo} timed out after 500 ms` });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  test("stat, readDir and readLink keep their answers", async () => {
    expect((await t.stat(fifo))?.isFile).toBe(false);
    expect(await t.readDir(dir)).toEqual(["hung"]);
    expect(await t.readLink(fifo)).toBeUndefined();
    await expect(t.readDir(path.join(dir, "nope"))).rejects.toMatchObject({ code: "ENOENT" });
  });
});
