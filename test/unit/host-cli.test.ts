import { describe, expect, test } from "vitest";
import { hostCli } from "../e2e/hosts.ts";

// Bad input to the host CLI: one line, a distinct exit code, never a stack trace.
describe("host CLI bad input", () => {
  test.concurrent.each([
    [["frobnicate"], 64, /unknown command "frobnicate"/],
    [["up", "--scenario", "no-such-fault"], 64, /unknown scenario "no-such-fault"; known: /],
    [["up", "--name", "Bad_Name"], 64, /invalid host name/],
    [["up", "--colour", "red"], 64, /unknown option --colour/],
    [["exec", "ghost-host", "--", "true"], 66, /no running host named ghost-host/],
    [["run", "ghost-host"], 66, /no running host named ghost-host/],
    [["down", "ghost-host"], 66, /no host named ghost-host/],
    [["exec"], 64, /missing host name/],
  ])("host %j exits %i", async (args, code, re) => {
    const r = await hostCli(args as string[]);
    expect(r.exitCode).toBe(code);
    expect(r.stderr).toMatch(re);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});
