import { expect, test } from "vitest";
import { replayContext, replayTransport } from "./replay.ts";

// close() ends one spec file: answered facts stay for the next file; unanswered, failed and closed-connection ones go.
test("after close, answered facts are reused; pending, failed and forgotten ones are asked again", async () => {
  const ctx = replayContext(replayTransport({}));
  const calls: string[] = [];
  const probe = (key: string, fn: () => Promise<unknown>) =>
    ctx.once(key, () => {
      calls.push(key);
      return fn();
    });
  await probe("fact", async () => 1);
  await probe("failed", async () => Promise.reject(new Error("no"))).catch(() => {});
  void probe("pending", () => new Promise(() => {}));
  await probe("conn", async () => "client");
  ctx.onClose(async () => {}, "conn");
  await ctx.close();
  await Promise.all([
    probe("fact", async () => 2),
    probe("failed", async () => "ok"),
    probe("pending", async () => "now"),
    probe("conn", async () => "new client"),
  ]);
  expect(calls).toEqual(["fact", "failed", "pending", "conn", "failed", "pending", "conn"]);
  expect(await probe("fact", async () => 3)).toBe(1);
});
