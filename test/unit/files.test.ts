import { describe, expect, test } from "vitest";
import { accountFor, allowed, type UserDb } from "../../src/probes/files.ts";
import type { FileStat } from "../../src/transport/types.ts";

const db: UserDb = {
  users: new Map([["projectmeats", { uid: 999, gid: 999 }], ["root", { uid: 0, gid: 0 }]]),
  groups: new Map([["projectmeats", { gid: 999, members: [] }], ["www-data", { gid: 33, members: ["projectmeats"] }]]),
  uidName: new Map([[999, "projectmeats"], [0, "root"]]),
  gidName: new Map([[999, "projectmeats"], [33, "www-data"]]),
};
const st = (mode: number, uid: number, gid: number, isDirectory = false): FileStat => ({ mode, uid, gid, isDirectory, isFile: !isDirectory, size: 1 });

describe("permission model", () => {
  const who = accountFor(db, "projectmeats", "www-data");

  test("the unit's account has its own group, Group= and supplementary groups", () => {
    expect(who).toEqual({ uid: 999, gids: [999, 33], name: "projectmeats" });
    expect(accountFor(db, "nobody-here", "")).toBeUndefined();
  });

  test.each([
    ["owner bits apply to the owner", st(0o640, 999, 0), "r", true],
    ["group bits apply through www-data", st(0o640, 0, 33), "r", true],
    ["a root-owned 600 file is unreadable", st(0o600, 0, 0), "r", false],
    ["others' bits apply to strangers", st(0o644, 0, 0), "w", false],
    ["a directory without x cannot be entered", st(0o750, 0, 0, true), "x", false],
  ])("%s", (_label, stat, want, expected) => {
    expect(allowed(stat, who as NonNullable<typeof who>, want as "r" | "w" | "x")).toBe(expected);
  });

  test("root may read anything but not execute a file with no x bit", () => {
    const root = accountFor(db, "root", "");
    expect(allowed(st(0o600, 999, 999), root as NonNullable<typeof root>, "r")).toBe(true);
    expect(allowed(st(0o644, 999, 999), root as NonNullable<typeof root>, "x")).toBe(false);
  });
});
