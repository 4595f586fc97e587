import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, expect, test } from "vitest";
import { describeOwner } from "../../src/remediation/lock.ts";
import { holdLocally, lockHolderArgv } from "../../src/transport/lock.ts";

// The real holder (python3 flock) on a real file: one holder at a time, freed by release and by its owner's death.
const dir = mkdtempSync(path.join(tmpdir(), "ddv-lock-"));
const file = path.join(dir, "remediation.lock");
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const since = new Date(Date.now() - 90_000).toISOString();
const owner = (pid: number) => JSON.stringify({ pid, user: "root", report: "r.json", host: "ctl1", since });

test("a second holder is refused with the first one's words; release frees it", async () => {
  const first = owner(111);
  const a = await holdLocally(file, first, 10_000);
  expect(a.held).toBe(true);
  const b = await holdLocally(file, owner(222), 10_000);
  if (a.held) await a.release();
  if (b.held) await b.release();
  expect(b).toEqual({ held: false, busy: first });
  expect(describeOwner((b as { busy: string }).busy, Date.parse(since) + 90_000)).toBe("root, pid 111 on ctl1, for 90 s (r.json)");
  const c = await holdLocally(file, owner(333), 10_000);
  expect(c.held).toBe(true);
  if (c.held) await c.release();
});

test("a holder whose owner is SIGKILLed frees the lock with it: never stuck", async () => {
  // A separate process takes the lock with its own holder, then is killed without a chance to release it.
  const [cmd, ...args] = lockHolderArgv(file, owner(444));
  const keeper = "import subprocess, sys, time; subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE); time.sleep(600)";
  const parent = spawn("python3", ["-c", keeper, cmd as string, ...args], { stdio: ["ignore", "pipe", "ignore"] });
  await new Promise<void>((r) => parent.stdout.once("data", () => r()));
  expect(JSON.parse(readFileSync(file, "utf8")).pid).toBe(444);
  const busy = await holdLocally(file, owner(555), 10_000);
  expect(busy.held).toBe(false);
  parent.kill("SIGKILL"); // the holder's stdin pipe closes with its only writer
  let held = false;
  for (let i = 0; i < 50 && !held; i++) {
    const l = await holdLocally(file, owner(666), 10_000);
    held = l.held;
    if (l.held) await l.release();
    else await new Promise((r) => setTimeout(r, 100));
  }
  expect(held).toBe(true);
});

test("release keeps its process alive until the holder is gone (a CLI awaiting it does not exit early, with code 0)", async () => {
  const script = `import { holdLocally } from ${JSON.stringify(new URL("../../src/transport/lock.ts", import.meta.url).pathname)};
const l = await holdLocally(${JSON.stringify(path.join(mkdtempSync(path.join(tmpdir(), "ddv-lock-cli-")), "cli.lock"))}, "{}", 10000);
if (l.held) await l.release();
console.log("released");
process.exitCode = 7;`;
  const { execa } = await import("execa");
  const r = await execa("npx", ["tsx", "--input-type=module", "-e", script], { reject: false, cwd: path.join(import.meta.dirname, "../..") });
  expect([r.exitCode, r.stdout.trim()], r.stderr).toEqual([7, "released"]);
});
