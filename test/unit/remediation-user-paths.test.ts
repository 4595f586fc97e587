import { chmodSync, chownSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import type { AppWrites } from "../../src/probes/app-writes.ts";
import type { UserDb } from "../../src/probes/files.ts";
import { planHandover, writeRoots, writeTargets } from "../../src/remediation/fixes/user-paths.ts";
import { unitDropIn } from "../../src/remediation/fixes/unit.ts";
import { createLocalTransport } from "../../src/transport/local.ts";

// SEC-008's User= change hands the paths the service writes to the new account: what root created there while the
// service ran as root (a log file, an upload directory) would otherwise stop its first start as that account.

const NEW = { uid: 4242, gids: [4243], name: "svc" };
const to = { uid: 4242, gid: 4243, takeOwner: true };
const db: UserDb = {
  users: new Map([["svc", { uid: 4242, gid: 4243 }]]),
  groups: new Map([["svcgrp", { gid: 4243, members: [] }]]),
  uidName: new Map([
    [0, "root"],
    [4242, "svc"],
  ]),
  gidName: new Map([
    [0, "root"],
    [4243, "svcgrp"],
  ]),
};

describe("what the new account must be able to write", () => {
  test("each written path, the log directory, and the directory a log file is created in; never a shared directory", () => {
    const targets = writeTargets(
      [
        { path: "/var/log/p/error.log", kind: "file" },
        { path: "/opt/p/media", kind: "tree" },
        { path: "/var/log/django.log", kind: "rotating" },
      ],
      "/var/log/p",
    );
    expect(targets.map((t) => t.path)).toEqual(["/var/log/p/error.log", "/opt/p/media", "/var/log/django.log", "/var/log/p"]);
    expect(writeRoots(targets)).toEqual(["/var/log/p/error.log", "/var/log/p", "/opt/p/media", "/var/log/django.log"]);
  });
});

describe("planHandover (the file helper and find on real files in a temp dir, root-owned as root made them)", () => {
  test("a root-owned log file, media directory and upload in it go to the new account; its own files stay; links are left", async () => {
    const top = mkdtempSync(join(tmpdir(), "ddv-handover-"));
    chmodSync(top, 0o755);
    const logs = join(top, "log");
    const media = join(top, "media");
    mkdirSync(logs, { mode: 0o750 });
    mkdirSync(join(media, "uploads"), { recursive: true, mode: 0o755 });
    chownSync(logs, 4242, 4243);
    writeFileSync(join(logs, "error.log"), "started as root\n", { mode: 0o640 }); // root:root, what the fault leaves
    writeFileSync(join(logs, "access.log"), "", { mode: 0o640 });
    chownSync(join(logs, "access.log"), 4242, 4243); // written by the account before: untouched
    writeFileSync(join(media, "uploads", "a.jpg"), "x", { mode: 0o644 });
    symlinkSync("/etc/shadow", join(logs, "django.log"));
    const writes: AppWrites = {
      paths: [
        { path: join(logs, "error.log"), kind: "file", sources: ["Gunicorn --error-logfile"] },
        { path: join(logs, "access.log"), kind: "file", sources: ["Gunicorn --access-logfile"] },
        { path: join(logs, "django.log"), kind: "file", sources: ["LOGGING handler 'file'"] },
        { path: media, kind: "tree", sources: ["MEDIA_ROOT"] },
      ],
      toJournal: [],
      notes: [],
      unknown: [],
    };
    const h = await planHandover(createLocalTransport(), writes, logs, db, NEW, to, 0);
    expect(h.actions).toEqual([
      { kind: "chown", path: join(logs, "error.log"), owner: "svc", group: "svcgrp" },
      { kind: "chown", path: media, owner: "svc", group: "svcgrp" },
      { kind: "chown", path: join(media, "uploads"), owner: "svc", group: "svcgrp" },
      { kind: "chown", path: join(media, "uploads", "a.jpg"), owner: "svc", group: "svcgrp" },
    ]);
    expect(h.notes).toContain(`${join(logs, "error.log")}: root:root 0640 -> svc:svcgrp 0640 (SEC-008)`);
    expect(h.notes.filter((n) => n.startsWith("not handed over"))).toEqual([
      `not handed over: ${join(logs, "django.log")} is a symbolic link: left alone (root does not act through links)`,
    ]);
  });

  test("a missing log file in a shared directory is named, never handed over", async () => {
    const writes: AppWrites = {
      paths: [{ path: "/var/log/ddv-no-such.log", kind: "file", sources: ["x"] }],
      toJournal: [],
      notes: [],
      unknown: ["Django's settings: x"],
    };
    const h = await planHandover(createLocalTransport(), writes, null, db, NEW, to, 0);
    expect(h.actions).toEqual([]);
    expect(h.notes).toEqual([
      "not handed over: /var/log is shared with the host: give svc a directory of its own for /var/log/ddv-no-such.log",
      "not learned, so not handed over: Django's settings: x",
    ]);
  });
});

test("the unit fix declares the written paths only when it moves the service off root", async () => {
  const writes: AppWrites = { paths: [{ path: "/srv/p/media", kind: "tree", sources: ["MEDIA_ROOT"] }], toJournal: [], notes: [], unknown: [] };
  const ctx = { config: { logDir: "/var/log/p", service: "p" }, once: async () => writes } as never;
  const env = { ctx, config: { service: "p", logDir: "/var/log/p" } as never, transport: createLocalTransport(), addSecret() {} };
  expect((await unitDropIn.touches({ ...env, ids: ["SEC-008"] })).files).toEqual(["/etc/systemd/system/p.service.d", "/srv/p/media", "/var/log/p"]);
  expect((await unitDropIn.touches({ ...env, ids: ["SVC-009"] })).files).toEqual(["/etc/systemd/system/p.service.d"]);
});
