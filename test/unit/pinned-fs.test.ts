import { linkSync, renameSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { BackupFolder, restoreEntry } from "../../src/remediation/backup.ts";
import { inspectPaths, pinned, RefusedError, type Read } from "../../src/remediation/pinned.ts";
import { createLocalTransport } from "../../src/transport/local.ts";

// The real helper (python3) on a real tree: what root's remediation does to files, and what it refuses.
const t = createLocalTransport();
const me = { owner: process.getuid?.() ?? 0, group: process.getgid?.() ?? 0 };
let dir = "";
let secret = "";
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "ddv-pinned-"));
  // Stands for a root-only file outside the deployment (/etc/shadow).
  secret = path.join(mkdtempSync(path.join(tmpdir(), "ddv-outside-")), "shadow");
  writeFileSync(secret, "root:$y$secret\n", { mode: 0o640 });
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(path.dirname(secret), { recursive: true, force: true });
});
const untouched = () => {
  const s = statSync(secret);
  expect([s.mode & 0o7777, readFileSync(secret, "utf8")]).toEqual([0o640, "root:$y$secret\n"]);
};

describe("no link is followed", () => {
  test("chown, chmod, read and write of a link planted at the path are refused; the target keeps owner, mode and content", async () => {
    const link = path.join(dir, "x.log");
    symlinkSync(secret, link);
    for (const req of [
      { op: "change" as const, path: link, mode: 0o666 },
      { op: "change" as const, path: link, ...me },
      { op: "read" as const, path: link },
      { op: "write" as const, path: link, data: Buffer.from("owned").toString("base64"), mode: 0o644, ...me },
    ])
      await expect(pinned(t, req)).rejects.toThrow(
        new RefusedError(`refused: ${link} is a symbolic link (to ${secret}): root does not ${req.op === "write" ? "write through" : "act through"} links`),
      );
    untouched();
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });

  test("a link on the way (a directory swapped for a link) is refused, whatever the last name", async () => {
    symlinkSync(path.dirname(secret), path.join(dir, "logs"));
    const p = path.join(dir, "logs", "shadow");
    await expect(pinned(t, { op: "change", path: p, mode: 0o666 })).rejects.toThrow(`refused: ${path.join(dir, "logs")} is a symbolic link`);
    expect((await inspectPaths(t, [p])).get(p)).toEqual({ kind: "refused", why: expect.stringContaining(`${path.join(dir, "logs")} is a symbolic link`) });
    untouched();
  });

  test("a regular file with a second hard link is refused (the other name may be outside)", async () => {
    const p = path.join(dir, "x.log");
    linkSync(secret, p);
    await expect(pinned(t, { op: "change", path: p, mode: 0o666 })).rejects.toThrow(/has 2 hard links/);
    untouched();
  });

  test("a path with '..' or not absolute is refused before anything is opened", async () => {
    await expect(pinned(t, { op: "change", path: `${dir}/../x`, mode: 0o600 })).rejects.toThrow(/not a plain absolute path/);
    await expect(pinned(t, { op: "change", path: "relative", mode: 0o600 })).rejects.toThrow(/not an absolute path/);
  });
});

describe("changes are held to what the plan saw", () => {
  test("an object replaced since the plan (another inode at the same name) is refused", async () => {
    const p = path.join(dir, "app.env");
    writeFileSync(p, "A=1\n");
    const seen = statSync(p);
    // Moved aside, not deleted, so the new file cannot reuse its inode number.
    renameSync(p, `${p}.old`);
    writeFileSync(p, "A=2\n");
    await expect(pinned(t, { op: "change", path: p, mode: 0o600, expect: { dev: seen.dev, ino: seen.ino } })).rejects.toThrow(
      /not the file the plan looked at/,
    );
    await expect(pinned(t, { op: "write", path: p, data: "", mode: 0o600, ...me, expect: { dev: seen.dev, ino: seen.ino } })).rejects.toThrow(
      /not the file the plan looked at/,
    );
  });

  test("a write replaces the file by rename (a new inode, owner and mode as asked), and leaves no temp file", async () => {
    const p = path.join(dir, "app.env");
    writeFileSync(p, "A=1\n", { mode: 0o644 });
    const before = statSync(p);
    await pinned(t, { op: "write", path: p, data: Buffer.from("A=2\n").toString("base64"), mode: 0o640, ...me, expect: { dev: before.dev, ino: before.ino } });
    const after = statSync(p);
    expect(after.ino).not.toBe(before.ino);
    expect([after.mode & 0o7777, readFileSync(p, "utf8")]).toEqual([0o640, "A=2\n"]);
    expect((await import("node:fs")).readdirSync(dir)).toEqual(["app.env"]);
  });

  test("a create finds something there now: refused, nothing replaced", async () => {
    const p = path.join(dir, "new.log");
    symlinkSync(secret, p);
    await expect(pinned(t, { op: "write", path: p, data: "", mode: 0o640, ...me, absent: true })).rejects.toThrow(/exists now/);
    await expect(pinned(t, { op: "mkdir", path: p, mode: 0o750, ...me })).rejects.toThrow(/exists now/);
    untouched();
  });
});

describe("backups hold bytes, not links; restore is byte-identical", () => {
  test("a non-UTF-8 file with an xattr: backed up, overwritten, restored byte for byte with its mode", async () => {
    const p = path.join(dir, "app.env");
    const bytes = Buffer.from([0x41, 0x3d, 0xe9, 0xff, 0x0a, 0x42, 0x3d, 0x31, 0x0a]);
    writeFileSync(p, bytes, { mode: 0o640 });
    const state = mkdtempSync(path.join(tmpdir(), "ddv-state-"));
    mkdirSync(path.join(state, "files"));
    const b = BackupFolder.at(t, state);
    const e = await b.save(p, "test");
    expect(e.copy && readFileSync(e.copy)).toEqual(bytes);
    expect(JSON.parse(readFileSync(path.join(state, "manifest.json"), "utf8")).files[0]).toMatchObject({ path: p, existed: true, kind: "file", mode: 0o640 });
    await pinned(t, { op: "write", path: p, data: Buffer.from("changed\n").toString("base64"), mode: 0o644, ...me });
    await restoreEntry(t, e);
    expect(readFileSync(p)).toEqual(bytes);
    expect(statSync(p).mode & 0o7777).toBe(0o640);
    rmSync(state, { recursive: true });
  });

  test("a backup of a link is refused (a link's content is someone else's file)", async () => {
    const p = path.join(dir, "app.env");
    symlinkSync(secret, p);
    const state = mkdtempSync(path.join(tmpdir(), "ddv-state-"));
    const b = BackupFolder.at(t, state);
    await expect(b.save(p, "test")).rejects.toThrow(/symbolic link/);
    rmSync(state, { recursive: true });
  });

  test("undo of a create removes only the object created (a directory only when empty)", async () => {
    const d = path.join(dir, "logs");
    const made = await pinned<{ after: { dev: number; ino: number } }>(t, { op: "mkdir", path: d, mode: 0o750, ...me });
    writeFileSync(path.join(d, "keep.log"), "x");
    await restoreEntry(t, { path: d, existed: false, created: { dev: made.after.dev, ino: made.after.ino }, fix: "test" });
    expect(statSync(path.join(d, "keep.log")).isFile()).toBe(true);
    const f = path.join(dir, "other");
    writeFileSync(f, "x");
    await expect(restoreEntry(t, { path: f, existed: false, created: { dev: made.after.dev, ino: made.after.ino }, fix: "test" })).rejects.toThrow(
      /not the file the plan looked at/,
    );
    expect(readFileSync(f, "utf8")).toBe("x");
  });

  // A kill can land before any of the create's four host calls (manifest, stage, manifest, place): after each, the
  // manifest on disk is enough for an undo to leave the directory as it was.
  test.each(["write", "mkdir"] as const)("a %s killed at any point is undone from its manifest alone: nothing left behind", async (op) => {
    const { readdirSync } = await import("node:fs");
    const make = op === "write" ? { op, data: Buffer.from("x\n").toString("base64"), mode: 0o640, ...me } : { op, mode: 0o750, ...me };
    for (let killAt = 1; killAt <= 5; killAt++) {
      const state = mkdtempSync(path.join(tmpdir(), "ddv-state-"));
      let calls = 0;
      let armed = false;
      const dying = { ...t, run: (argv: string[], o?: object) => (armed && ++calls === killAt ? Promise.reject(new Error("killed")) : t.run(argv, o)) };
      const b = BackupFolder.at(dying, state);
      const p = path.join(dir, "logs");
      const e = await b.save(p, "test", { content: false });
      armed = true;
      const done = await b.create(e, make).then(
        () => true,
        () => false,
      );
      expect(done).toBe(killAt === 5);
      if (done) expect(lstatSync(p).isDirectory()).toBe(op === "mkdir");
      const files = JSON.parse(readFileSync(path.join(state, "manifest.json"), "utf8")).files;
      for (const f of files.reverse()) await restoreEntry(t, f);
      expect([killAt, readdirSync(dir)]).toEqual([killAt, []]);
      rmSync(state, { recursive: true });
    }
  });

  test("placing a created object never replaces what appeared at its name meanwhile", async () => {
    const state = mkdtempSync(path.join(tmpdir(), "ddv-state-"));
    const p = path.join(dir, "logs");
    const b = BackupFolder.at(t, state);
    const e = await b.save(p, "test", { content: false });
    // The service's user plants an empty directory at the name between the plan and the step.
    const sneaky = {
      ...t,
      run: async (argv: string[], o?: { input?: string }) => {
        if (o?.input?.includes('"op":"place"')) mkdirSync(p);
        return t.run(argv, o);
      },
    };
    await expect(BackupFolder.at(sneaky, state).create(e, { op: "mkdir", mode: 0o750, ...me })).rejects.toThrow(/exists now/);
    expect(statSync(p).mode & 0o7777).not.toBe(0o750);
    await restoreEntry(t, e);
    expect((await import("node:fs")).readdirSync(dir)).toEqual(["logs"]);
    rmSync(state, { recursive: true });
  });

  test("read answers bytes, owner and mode of the very file", async () => {
    const p = path.join(dir, "f");
    writeFileSync(p, "hello", { mode: 0o600 });
    const r = await pinned<Read>(t, { op: "read", path: p });
    expect([Buffer.from(r.data, "base64").toString(), r.mode, r.kind]).toEqual(["hello", 0o600, "file"]);
  });
});

describe("env edits are byte edits", () => {
  test("a file that is not UTF-8 keeps every byte outside the edited line (read and written one byte per character)", async () => {
    const { setEnvValue } = await import("../../src/remediation/fixes/env-edit.ts");
    const p = path.join(dir, "app.env");
    const head = Buffer.from([0x23, 0x20, 0x63, 0x61, 0x66, 0xe9, 0x0a]); // "# café" in latin1
    const tail = Buffer.from([0x0a, 0x4e, 0x41, 0x4d, 0x45, 0x3d, 0xff, 0xfe, 0x0a]); // "\nNAME=\xff\xfe\n"
    writeFileSync(p, Buffer.concat([head, Buffer.from("DEBUG=True"), tail]), { mode: 0o640 });
    const r = await pinned<Read>(t, { op: "read", path: p });
    const edit = setEnvValue(Buffer.from(r.data, "base64").toString("latin1"), "DEBUG", "False");
    if ("why" in edit) throw new Error(edit.why);
    await pinned(t, { op: "write", path: p, data: Buffer.from(edit.text, "latin1").toString("base64"), mode: r.mode, owner: r.uid, group: r.gid });
    expect(readFileSync(p)).toEqual(Buffer.concat([head, Buffer.from("DEBUG=False"), tail]));
  });
});

describe("the plan's diff of a write", () => {
  test("a link planted after the plan looked is said in the plan, never read through", async () => {
    const { describeAction } = await import("../../src/remediation/describe.ts");
    const p = path.join(dir, "app.env");
    symlinkSync(secret, p);
    const line = await describeAction(t, { kind: "write", path: p, content: "DEBUG=False\n", mode: 0o640, owner: "root", group: "root" }, [], {
      names: [],
      suffixes: [],
      minLength: 8,
    });
    expect(line).toMatch(/^write .*app\.env: refused: .* is a symbolic link .*this step will be refused\)$/);
    expect(line).not.toContain("root:$y$secret");
    untouched();
  });
});
