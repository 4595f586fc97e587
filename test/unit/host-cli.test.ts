import { describe, expect, test } from "vitest";
import { listFlavours, loadFlavour } from "../../fixtures/flavours/flavour.ts";
import { hostCliProcess as hostCli } from "../e2e/hosts.ts";

// Bad input to the host CLI: one line, a distinct exit code, never a stack trace.
describe("host CLI bad input", () => {
  test.concurrent.each([
    [["frobnicate"], 64, /unknown command "frobnicate"/],
    [["up", "--scenario", "no-such-fault"], 64, /unknown scenario "no-such-fault"; known: /],
    [["up", "--flavour", "no-such-flavour"], 64, /unknown flavour "no-such-flavour"; known: as-shipped, (.+, )?reference/],
    [["up", "--flavour"], 64, /--flavour needs a value/],
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

// A bad flavour is named in one line, with the flavours that exist, before anything is booted.
test("host up --flavour with an unknown name: exit 64, one line naming the known flavours", async () => {
  const r = await hostCli(["up", "--flavour", "vanilla", "--name", "h5-never-booted"]);
  expect(r.exitCode).toBe(64);
  expect(r.stdout).toBe("");
  expect(r.stderr.trim().split("\n")).toEqual([`host: unknown flavour "vanilla"; known: ${(await listFlavours()).join(", ")}`]);
});

// Every flavour file passes its schema, so `up --flavour` never fails on a malformed flavour after booting.
test("every flavour file loads and names itself", async () => {
  const names = await listFlavours();
  expect(names).toContain("reference");
  for (const name of names) expect((await loadFlavour(name)).name).toBe(name);
});
