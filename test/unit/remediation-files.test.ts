import { describe, expect, it } from "vitest";
import type { UserDb } from "../../src/probes/files.ts";
import type { FileStat, Transport } from "../../src/transport/types.ts";
import {
  ancestorsOf,
  changesBetween,
  grant,
  gunicornLogFiles,
  neededBits,
  octal,
  parseModeLines,
  permits,
  within,
  withoutWorldWrite,
  type Inode,
} from "../../src/remediation/fixes/modes.ts";
import { PathPlan } from "../../src/remediation/fixes/path-plan.ts";

// The reference host's identities: projectmeats (uid 999, passwd group 997) runs with Group=www-data (33) only.
const svc = { uid: 999, gids: [33], name: "projectmeats" };
const code = { uid: 999, gid: 33, takeOwner: false };
const logs = { uid: 999, gid: 33, takeOwner: true };
const file = (mode: number, uid = 0, gid = 0): Inode => ({ mode, uid, gid, isDirectory: false });
const dir = (mode: number, uid = 0, gid = 0): Inode => ({ mode, uid, gid, isDirectory: true });

describe("grant: the smallest owner/mode change that lets the service in", () => {
  it("code-group-not-held: root:projectmeats 0640 only changes group (the mode already lets the group read)", () => {
    expect(grant(file(0o640, 0, 997), svc, "r", code)).toEqual(file(0o640, 0, 33));
  });
  it("code-unreadable: root:root 0600 becomes root:www-data 0640 (owner kept, group read, others untouched)", () => {
    expect(grant(file(0o600), svc, "r", code)).toEqual(file(0o640, 0, 33));
  });
  it("a file the service owns gets u+r only; one in its group gets g+r only", () => {
    expect(grant(file(0o200, 999, 997), svc, "r", code)).toEqual(file(0o600, 999, 997));
    expect(grant(file(0o600, 0, 33), svc, "r", code)).toEqual(file(0o640, 0, 33));
  });
  it("executable code keeps its x bits", () => {
    expect(grant(file(0o700), svc, "r", code)).toEqual(file(0o740, 0, 33));
  });
  it("workdir-unreadable: a root:root 0700 directory becomes root:www-data 0750 (r and x together)", () => {
    const d = grant(dir(0o700), svc, "x", code);
    expect(d).toEqual(dir(0o750, 0, 33));
    expect(grant(d, svc, "r", code)).toBe(d);
  });
  it("an ancestor the group may list but not enter gets g+x (r already there)", () => {
    expect(grant(dir(0o740, 0, 33), svc, "x", code)).toEqual(dir(0o750, 0, 33));
  });
  it("log-dir-not-writable: root:root 0755 goes to projectmeats:www-data, mode kept", () => {
    expect(grant(dir(0o755), svc, "w", logs)).toEqual(dir(0o755, 999, 33));
  });
  it("a root:root 0700 log dir becomes projectmeats:www-data 0700, and a root:root 0644 log 0644 owned by the user", () => {
    expect(grant(dir(0o700), svc, "w", logs)).toEqual(dir(0o700, 999, 33));
    expect(grant(file(0o644), svc, "w", logs)).toEqual(file(0o644, 999, 33));
    expect(grant(file(0o444), svc, "w", logs)).toEqual(file(0o644, 999, 33));
  });
  it("a log dir in the service's group that lacks group write gets g+w (and g+x: creating a file needs both)", () => {
    expect(grant(dir(0o755, 0, 33), svc, "w", logs)).toEqual(dir(0o775, 0, 33));
    expect(grant(dir(0o700, 0, 33), svc, "w", logs)).toEqual(dir(0o770, 0, 33));
  });
  it("never widens access for others, and leaves what already works alone", () => {
    for (const m of [0o600, 0o640, 0o700, 0o750]) expect(grant(file(m), svc, "r", code).mode & 0o007).toBe(m & 0o007);
    const ok = file(0o644, 999, 33);
    expect(grant(ok, svc, "r", code)).toBe(ok);
  });
  it("keeps set-id bits; root needs nothing", () => {
    expect(grant(dir(0o2700), svc, "x", code)).toEqual(dir(0o2750, 0, 33));
    const n = file(0o000);
    expect(grant(n, { uid: 0, gids: [0] }, "r", code)).toBe(n);
  });
});

describe("permits and neededBits", () => {
  it("judges by the class that applies (owner, then group, then others), like probes/files.ts allowed()", () => {
    expect(permits(file(0o604, 999, 33), svc, "r")).toBe(true);
    expect(permits(file(0o064, 999, 33), svc, "r")).toBe(false); // the owner class applies, not the group's
    expect(permits(file(0o004, 0, 997), svc, "r")).toBe(true);
    expect(permits(file(0o644), { uid: 0, gids: [0] }, "x")).toBe(false);
  });
  it("a directory is granted rx, or rwx to write in it", () => {
    expect([neededBits("r", true), neededBits("x", true), neededBits("w", true)]).toEqual([5, 5, 7]);
    expect([neededBits("r", false), neededBits("w", false), neededBits("x", false)]).toEqual([4, 2, 1]);
  });
});

describe("world-writable bits", () => {
  it("chmod o-w, exactly, special bits kept", () => {
    expect(octal(withoutWorldWrite(0o777))).toBe("0775");
    expect(octal(withoutWorldWrite(0o666))).toBe("0664");
    expect(octal(withoutWorldWrite(0o2777))).toBe("2775");
    expect(octal(withoutWorldWrite(0o4757))).toBe("4755");
    expect(withoutWorldWrite(0o755)).toBe(0o755);
  });
  it("reads find -printf '%m %p' lines, spaces in names included", () => {
    expect(parseModeLines(["777 /opt/projectmeats/backend/media", "666 /opt/p/a b.txt", "", "junk"])).toEqual([
      { path: "/opt/projectmeats/backend/media", mode: 0o777 },
      { path: "/opt/p/a b.txt", mode: 0o666 },
    ]);
  });
});

describe("what chown/chmod a change needs", () => {
  it("chown only when owner or group differ, chmod only when the mode does", () => {
    expect(changesBetween(file(0o640, 0, 997), file(0o640, 0, 33))).toEqual({ chown: true, chmod: false });
    expect(changesBetween(dir(0o777, 999, 33), dir(0o775, 999, 33))).toEqual({ chown: false, chmod: true });
  });
  it("re-applies the mode after a chown of a set-id file (chown clears those bits)", () => {
    expect(changesBetween(file(0o2750, 0, 0), file(0o2750, 0, 33))).toEqual({ chown: true, chmod: true });
    expect(changesBetween(dir(0o2750, 0, 0), dir(0o2750, 0, 33))).toEqual({ chown: true, chmod: false });
  });
});

describe("path helpers", () => {
  it("ancestors from the top, and prefixes by whole components", () => {
    expect(ancestorsOf("/opt/projectmeats/backend/manage.py")).toEqual(["/opt", "/opt/projectmeats", "/opt/projectmeats/backend"]);
    expect(within("/opt/projectmeats/backend", ["/opt/projectmeats"])).toBe(true);
    expect(within("/opt/projectmeats2", ["/opt/projectmeats"])).toBe(false);
    expect(within("/opt", ["/opt/projectmeats"])).toBe(false);
  });
  it("finds Gunicorn's log files on its command line, both spellings, '-' ignored", () => {
    expect(
      gunicornLogFiles(["gunicorn", "--access-logfile", "/var/log/p/access.log", "--error-logfile=/var/log/p/error.log", "--log-file", "-", "app:application"]),
    ).toEqual(["/var/log/p/access.log", "/var/log/p/error.log"]);
  });
});

// A transport over an in-memory tree: only stat is used by PathPlan.
function fakeTree(tree: Record<string, Inode>): Transport {
  const stat = async (p: string): Promise<FileStat | undefined> => {
    const n = tree[p];
    return n && { mode: n.mode, uid: n.uid, gid: n.gid, isDirectory: n.isDirectory, isFile: !n.isDirectory, size: 1 };
  };
  return { name: "fake", stat } as unknown as Transport;
}

const db: UserDb = {
  users: new Map([
    ["root", { uid: 0, gid: 0 }],
    ["projectmeats", { uid: 999, gid: 997 }],
  ]),
  groups: new Map([
    ["root", { gid: 0, members: [] }],
    ["www-data", { gid: 33, members: ["projectmeats"] }],
    ["projectmeats", { gid: 997, members: [] }],
  ]),
  uidName: new Map([
    [0, "root"],
    [999, "projectmeats"],
  ]),
  gidName: new Map([
    [0, "root"],
    [33, "www-data"],
    [997, "projectmeats"],
  ]),
};

describe("PathPlan: walks from / and fixes only the obstacles", () => {
  const base = { "/": dir(0o755), "/opt": dir(0o755), "/opt/projectmeats": dir(0o755, 999, 33), "/opt/projectmeats/backend": dir(0o755, 999, 33) };
  it("an unreadable file is the only change when its ancestors are fine", async () => {
    const pp = new PathPlan(fakeTree({ ...base, "/opt/projectmeats/backend/manage.py": file(0o600) }), ["/opt/projectmeats"]);
    expect(await pp.clear("/opt/projectmeats/backend/manage.py", svc, ["r"], code, "FS-001")).toBeUndefined();
    const { actions, notes } = pp.render(db);
    expect(actions).toEqual([
      { kind: "chown", path: "/opt/projectmeats/backend/manage.py", owner: "root", group: "www-data" },
      { kind: "chmod", path: "/opt/projectmeats/backend/manage.py", mode: 0o640 },
    ]);
    expect(notes).toEqual(["/opt/projectmeats/backend/manage.py: root:root 0600 -> root:www-data 0640 (FS-001)"]);
  });
  it("a blocked ancestor is fixed once for both files under it, before them", async () => {
    const t = fakeTree({
      ...base,
      "/opt/projectmeats/backend": dir(0o700),
      "/opt/projectmeats/backend/manage.py": file(0o644, 999, 33),
      "/opt/projectmeats/backend/w.py": file(0o644, 999, 33),
    });
    const pp = new PathPlan(t, ["/opt/projectmeats"]);
    await pp.clear("/opt/projectmeats/backend/manage.py", svc, ["r"], code, "FS-001");
    await pp.clear("/opt/projectmeats/backend/w.py", svc, ["r"], code, "FS-001");
    expect(pp.render(db).actions).toEqual([
      { kind: "chown", path: "/opt/projectmeats/backend", owner: "root", group: "www-data" },
      { kind: "chmod", path: "/opt/projectmeats/backend", mode: 0o750 },
    ]);
  });
  it("an obstacle outside the declared roots is named, never changed", async () => {
    const pp = new PathPlan(fakeTree({ ...base, "/opt": dir(0o700), "/opt/projectmeats/backend/manage.py": file(0o644) }), ["/opt/projectmeats"]);
    expect(await pp.clear("/opt/projectmeats/backend/manage.py", svc, ["r"], code, "FS-001")).toMatch(/cannot enter \/opt \(0700\), which is outside/);
    expect(pp.render(db).actions).toEqual([]);
  });
  it("a missing path is named", async () => {
    const pp = new PathPlan(fakeTree(base), ["/opt/projectmeats"]);
    expect(await pp.clear("/opt/projectmeats/backend/manage.py", svc, ["r"], code, "FS-001")).toBe("/opt/projectmeats/backend/manage.py does not exist");
  });
  it("planned creations become mkdir and empty writes with the unit's owner", async () => {
    const pp = new PathPlan(fakeTree(base), ["/var/log/p"]);
    pp.create("/var/log/p", dir(0o750, 999, 33), "FS-002");
    pp.create("/var/log/p/error.log", file(0o640, 999, 33), "FS-002");
    expect(pp.render(db).actions).toEqual([
      { kind: "mkdir", path: "/var/log/p", mode: 0o750, owner: "projectmeats", group: "www-data" },
      { kind: "write", path: "/var/log/p/error.log", content: "", mode: 0o640, owner: "projectmeats", group: "www-data" },
    ]);
  });
});
