import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { ConfigSchema } from "../../src/config/schema.ts";
import { ProbeContext } from "../../src/probes/context.ts";
import { committedIn, readableByOthers } from "../../src/probes/secrets-in-code.ts";
import { createLocalTransport } from "../../src/transport/local.ts";

// FS-008's two questions on a real tree and a real git repository: who else can read the file, and whether the
// committed version holds the secret's line (compared by hash, as Django's start reports it).
const ctx = new ProbeContext(ConfigSchema.parse({}), createLocalTransport());
const root = mkdtempSync(path.join(tmpdir(), "ddv-code-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const line = 'SECRET_KEY = "k3y-0123456789-abcdefghij-KLMNOPQRST"';
const hash = (l: string) => createHash("sha256").update(l).digest("hex");
const git = (...args: string[]) => execFileSync("git", ["-C", root, "-c", "user.name=t", "-c", "user.email=t@t", ...args], { stdio: "pipe" });

describe("a secret written in code", () => {
  test("readable by others only when the file has o+r and every directory above lets others through", async () => {
    const f = path.join(root, "settings.py");
    writeFileSync(f, `${line}\n`, { mode: 0o644 });
    chmodSync(root, 0o755);
    expect(await readableByOthers(ctx, f)).toEqual({ mode: 0o644, yes: true });
    chmodSync(f, 0o640);
    expect(await readableByOthers(ctx, f)).toEqual({ mode: 0o640, yes: false });
    chmodSync(f, 0o644);
    chmodSync(root, 0o750);
    expect((await readableByOthers(ctx, f)).yes).toBe(false);
    chmodSync(root, 0o755);
  });

  test("committed: HEAD's version holds the line; a file never committed, or committed without it, is not", async () => {
    const f = path.join(root, "settings.py");
    writeFileSync(f, "DEBUG = False\n");
    git("init", "-q");
    git("add", "settings.py");
    git("commit", "-qm", "without the key");
    writeFileSync(f, `DEBUG = False\n${line}\n`);
    expect(await committedIn(ctx, f, [hash(line)])).toEqual({});
    git("commit", "-qam", "the key pasted in");
    expect(await committedIn(ctx, f, [hash(line)])).toEqual({ repo: root });
    writeFileSync(path.join(root, "local.py"), `${line}\n`);
    expect(await committedIn(ctx, path.join(root, "local.py"), [hash(line)])).toEqual({});
  });
});
