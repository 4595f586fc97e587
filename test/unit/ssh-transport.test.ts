import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { expect, test } from "vitest";
import { helperCommand } from "../../src/transport/remote-helper.ts";
import { createSshTransport, sshOptions } from "../../src/transport/ssh.ts";

// test/fake/ssh runs the remote command line with a local sh -c, as sshd gives it to the login shell: quoting,
// exit codes, stdin, file calls and ssh's own failure (exit 255) are exercised for real; the network is not.
const SSH = path.join(import.meta.dirname, "../fake/ssh");
const transport = (host = "web1") => createSshTransport({ host, ssh: SSH }, 5_000);

test("argv, environment, directory and stdin reach the remote command exactly", async () => {
  const t = transport();
  const dir = mkdtempSync(path.join(tmpdir(), "ddv ssh '$x'"));
  const r = await t.run(["sh", "-c", 'printf "%s|" "$1" "$2" "$(pwd)" "$FOO" "$(cat)"', "_", "a b", "it's $HOME"], {
    cwd: dir,
    env: { FOO: "x y;z", PATH: process.env.PATH ?? "/usr/bin:/bin" },
    input: "from stdin",
  });
  expect(r).toMatchObject({ exitCode: 0, stdout: `a b|it's $HOME|${dir}|x y;z|from stdin|` });
  expect((await t.run(["sh", "-c", "exit 3"])).exitCode).toBe(3);
  t.dispose();
  rmSync(dir, { recursive: true, force: true });
});

test("ssh's exit 255 is a transport error naming the host, never a result", async () => {
  const t = transport("unreachable");
  await expect(t.run(["true"])).rejects.toMatchObject({
    name: "TransportError",
    code: "ESSH",
    message: expect.stringMatching(/^ssh to unreachable failed: ssh: connect to host/),
  });
  await expect(t.stat("/etc")).rejects.toMatchObject({ code: "ESSH" });
  t.dispose();
});

test("files: read, stat (mode, owner, type), list, link; missing is undefined or ENOENT; unreadable is EACCES", async () => {
  const t = transport();
  const dir = mkdtempSync(path.join(tmpdir(), "ddv-ssh-files-"));
  writeFileSync(path.join(dir, "env file"), "A=1\n");
  chmodSync(path.join(dir, "env file"), 0o640);
  mkdirSync(path.join(dir, "sub dir"));
  symlinkSync("env file", path.join(dir, "link"));
  expect(await t.readFile(path.join(dir, "env file"))).toBe("A=1\n");
  // procfs refuses one read as large as the transport's cap (ENOMEM): read like any file.
  expect(await t.readFile("/proc/sys/kernel/hostname")).toBe(readFileSync("/proc/sys/kernel/hostname", "utf8"));
  expect(await t.stat(path.join(dir, "env file"))).toEqual({
    mode: 0o640,
    uid: process.getuid?.(),
    gid: process.getgid?.(),
    isDirectory: false,
    isFile: true,
    size: 4,
  });
  expect(await t.stat(path.join(dir, "sub dir"))).toMatchObject({ isDirectory: true, isFile: false });
  expect(await t.stat(path.join(dir, "nope"))).toBeUndefined();
  expect((await t.readDir(dir)).sort()).toEqual(["env file", "link", "sub dir"]);
  expect(await t.readLink(path.join(dir, "link"))).toBe("env file");
  expect(await t.readLink(path.join(dir, "env file"))).toBeUndefined();
  await expect(t.readFile(path.join(dir, "nope"))).rejects.toMatchObject({ code: "ENOENT" });
  t.dispose();
  rmSync(dir, { recursive: true, force: true });
});

test("under sudo the helper is root's; options hold the master connection and never prompt", () => {
  // Under sudo the helper (and so every command it runs) is root's; -n: a password prompt fails at once.
  expect(helperCommand(true)).toMatch(/^exec sudo -n -- python3 -u -c '/);
  const o = sshOptions({ host: "web1", user: "deploy", port: 2222, options: ["-J", "bastion"] }, "/run/x/master", 5);
  expect(o.join(" ")).toBe(
    "-o BatchMode=yes -o ConnectTimeout=5 -o ServerAliveInterval=5 -o ServerAliveCountMax=2 -o ControlMaster=no -o ControlPath=/run/x/master -o StreamLocalBindUnlink=yes -p 2222 -l deploy -J bastion",
  );
});

test("file calls made at the same moment travel on one channel, each with its own answer", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "ddv-ssh-batch-"));
  // Its own folder: close() ends the master connection in the background, which the stand-in logs too.
  const log = path.join(mkdtempSync(path.join(tmpdir(), "ddv-ssh-log-")), "connections");
  process.env.FAKE_SSH_LOG = log;
  try {
    const t = transport();
    const files = Array.from({ length: 40 }, (_, i) => path.join(dir, `f ${i} '$x'`));
    files.forEach((f, i) => writeFileSync(f, `line ${i}\n`));
    const [stats, texts, missing] = await Promise.all([
      Promise.all(files.map((f) => t.stat(f))),
      Promise.all(files.map((f) => t.readFile(f))),
      t.stat(path.join(dir, "nope")),
    ]);
    expect(stats.every((s) => s?.isFile && s.size > 0)).toBe(true);
    expect(texts).toEqual(files.map((_, i) => `line ${i}\n`));
    expect(missing).toBeUndefined();
    // The master connection and one helper session on it, whatever the number of calls: 81 requests sent
    // together, one wait.
    expect(readFileSync(log, "utf8").trim().split("\n")).toEqual(["web1 master", "web1"]);
    expect(t.requests).toBe(81);
    expect(t.roundTrips).toBe(2 + 1);
    t.dispose();
  } finally {
    delete process.env.FAKE_SSH_LOG;
    rmSync(dir, { recursive: true, force: true });
    rmSync(path.dirname(log), { recursive: true, force: true });
  }
});

test("a master connection lost mid-run turns every later call into an error at once, never a reconnect", async () => {
  const host = `web-lost-${process.pid}`;
  const t = transport(host);
  expect((await t.run(["echo", "up"])).stdout).toBe("up\n");
  // End the master as a dropped link would (the stand-in's process carries the host in its command line).
  const master = execFileSync("pgrep", ["-f", `ControlMaster=yes.*${host}`], { encoding: "utf8" })
    .trim()
    .split("\n")
    .map(Number);
  expect(master).toHaveLength(1);
  process.kill(master[0] as number, "SIGKILL");
  await expect
    .poll(
      () =>
        t.run(["true"]).then(
          () => "ran",
          (e: Error) => e.message,
        ),
      { timeout: 2_000 },
    )
    .toMatch(/^ssh to web-lost-\d+: the connection ended during the run \(killed by SIGKILL\)/);
  await expect(t.stat("/etc")).rejects.toMatchObject({ code: "ESSH" });
  t.dispose();
});

test("the remote helper: many commands at once on one session; a hung command times out and its group is killed; big output is cut and said so", async () => {
  const log = path.join(mkdtempSync(path.join(tmpdir(), "ddv-ssh-log-")), "connections");
  process.env.FAKE_SSH_LOG = log;
  try {
    const t = createSshTransport({ host: "web1", ssh: SSH }, 2_000);
    const started = performance.now();
    const outs = await Promise.all(Array.from({ length: 20 }, (_, i) => t.run(["sh", "-c", 'sleep 0.3; echo "$1"', "_", `n${i}`])));
    expect(outs.map((o) => o.stdout)).toEqual(Array.from({ length: 20 }, (_, i) => `n${i}\n`));
    // Concurrent on the remote side: 20 commands of 0.3 s take far less than 6 s.
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(readFileSync(log, "utf8").trim().split("\n")).toEqual(["web1 master", "web1"]);
    // A child in the background holds the output open: the whole group must go, not just the shell.
    const sleeper = `sleep 30.${process.pid}`;
    await expect(t.run(["sh", "-c", `${sleeper} & wait`], { timeoutMs: 1_000 })).rejects.toMatchObject({ code: "ETIMEDOUT" });
    await expect.poll(() => execFileSync("sh", ["-c", `pgrep -fx '${sleeper}' || true`], { encoding: "utf8" }).trim(), { timeout: 2_000 }).toBe("");
    const big = await t.run(["sh", "-c", "head -c 5000 /dev/zero | tr '\\0' x"], { maxOutputBytes: 1000 });
    expect(big).toMatchObject({ exitCode: 0, truncated: true });
    expect(big.stdout).toHaveLength(1000);
    await expect(t.readFile("/nonexistent/x")).rejects.toMatchObject({ code: "ENOENT" });
    expect((await t.run(["echo", "ok"])).stdout).toBe("ok\n");
    t.dispose();
  } finally {
    delete process.env.FAKE_SSH_LOG;
    rmSync(path.dirname(log), { recursive: true, force: true });
  }
});
