import { describe, expect, test } from "vitest";
import { createLocalTransport } from "../../src/transport/local.ts";

describe("local transport", () => {
  const t = createLocalTransport(2_000);

  test("a non-zero exit is data, not an exception", async () => {
    const r = await t.run(["sh", "-c", "echo out; echo err >&2; exit 3"]);
    expect(r).toMatchObject({ exitCode: 3, stdout: "out\n", stderr: "err\n" });
  });

  test("a timeout kills the whole process group, grandchildren included, and is an error", async () => {
    const started = Date.now();
    await expect(t.run(["sh", "-c", "sleep 5; echo late"], { timeoutMs: 300 })).rejects.toMatchObject({ name: "TransportError", code: "ETIMEDOUT" });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  test("a command that cannot run is an error naming it", async () => {
    await expect(t.run(["/nonexistent/tool", "x"])).rejects.toThrow(/\/nonexistent\/tool could not run: ENOENT/);
  });

  test("close() stops commands still running", async () => {
    const pending = t.run(["sleep", "5"], { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 100));
    t.close();
    await expect(pending).rejects.toMatchObject({ code: "ESIGNAL" });
  });

  test("files: a missing path stats as undefined, an unreadable read names the errno", async () => {
    expect(await t.stat("/nonexistent/file")).toBeUndefined();
    await expect(t.readFile("/nonexistent/file")).rejects.toMatchObject({ code: "ENOENT" });
  });
});

test("a command that exits without reading its input is a result, not an uncaught EPIPE", async () => {
  const t = createLocalTransport(5_000);
  for (let i = 0; i < 5; i++) expect(await t.run(["sh", "-c", "exit 4"], { input: "x".repeat(4 * 1024 * 1024) })).toMatchObject({ exitCode: 4 });
  t.close();
});
