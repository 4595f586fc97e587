import { describe, expect, test } from "vitest";
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { envFileProblems, findWorldWritable, parseFind } from "../../src/checks/fs-permissions.ts";
import { parseModeLines } from "../../src/remediation/fixes/modes.ts";
import { createLocalTransport } from "../../src/transport/local.ts";
import { accountFor, allowed, type UserDb } from "../../src/probes/files.ts";
import { Evaluator } from "../../src/runner/evaluate.ts";
import { type FileStat, TransportError } from "../../src/transport/types.ts";
import { healthyCommands } from "./healthy-replay.ts";
import { recorded, replayContext, replayTransport } from "./replay.ts";

const db: UserDb = {
  users: new Map([
    ["projectmeats", { uid: 999, gid: 999 }],
    ["root", { uid: 0, gid: 0 }],
  ]),
  groups: new Map([
    ["projectmeats", { gid: 999, members: [] }],
    ["www-data", { gid: 33, members: ["projectmeats"] }],
  ]),
  uidName: new Map([
    [999, "projectmeats"],
    [0, "root"],
  ]),
  gidName: new Map([
    [999, "projectmeats"],
    [33, "www-data"],
  ]),
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

describe("FS-003: env file owner, group and mode", () => {
  const ids = { uid: 999, gids: [33] }; // the running service: uid 999, gid 33 (www-data), no other groups
  test.each([
    ["0400 root:root", st(0o400, 0, 0), []],
    ["0440 root:www-data", st(0o440, 0, 33), []],
    ["0600 projectmeats:projectmeats (group has no read)", st(0o600, 999, 997), []],
    ["0640 projectmeats:www-data (the reference host)", st(0o640, 999, 33), []],
    ["0640 root:root", st(0o640, 0, 0), []],
    ["0644 world-readable", st(0o644, 999, 33), ["others have access"]],
    ["0660 group-writable", st(0o660, 0, 33), ["the group can write"]],
    ["0700 executable", st(0o700, 0, 0), ["execute bits set"]],
    ["0200 write-only", st(0o200, 0, 0), ["mode 0200 is not 400, 440, 600 or 640"]],
    ["0640 root:adm (a group the service does not hold)", st(0o640, 0, 4), ["group 4 may read it and is neither root nor one of the service's groups (33)"]],
    [
      "0640 root:projectmeats (in /etc/group, not held by the process)",
      st(0o640, 0, 997),
      ["group 997 may read it and is neither root nor one of the service's groups (33)"],
    ],
    ["0600 owned by another user", st(0o600, 1000, 1000), ["owner uid 1000 is neither root nor the service's uid 999"]],
  ])("%s", (_label, stat, problems) => {
    expect(envFileProblems(stat, ids)).toEqual(problems);
  });

  const env = "/etc/projectmeats/projectmeats.env";
  const run = async (stat: FileStat, show = recorded("systemctl-show-healthy.txt")) => {
    const t = replayTransport(healthyCommands(show), {
      [env]: stat,
      "/etc/passwd": "root:x:0:0::/root:/bin/sh\nprojectmeats:x:999:997::/:/bin/false\n",
      "/etc/group": "root:x:0:\nwww-data:x:33:projectmeats\nadm:x:4:\nprojectmeats:x:997:\n",
      "/proc/70/status": recorded("sandbox-proc-status.txt"),
    });
    const [svc5, fs3] = await new Evaluator(replayContext(t)).all(["SVC-005", "FS-003"]);
    expect(svc5?.status).toBe("pass");
    return fs3;
  };
  test("every env file optional and absent: nothing to protect (a pass saying so); a required one absent is SVC-005's", async () => {
    const t = (show: string) =>
      replayTransport(healthyCommands(show), {
        "/etc/passwd": "root:x:0:0::/root:/bin/sh\nprojectmeats:x:999:997::/:/bin/false\n",
        "/etc/group": "root:x:0:\nwww-data:x:33:projectmeats\n",
        "/proc/70/status": recorded("sandbox-proc-status.txt"),
      });
    const optional = recorded("systemctl-show-healthy.txt").replace(`${env} (ignore_errors=no)`, `${env} (ignore_errors=yes)`);
    expect((await new Evaluator(replayContext(t(optional))).all(["FS-003"]))[0]).toMatchObject({
      status: "pass",
      observed: `none of ${env} exists (all optional): no env file to protect`,
    });
    const required = await new Evaluator(replayContext(t(recorded("systemctl-show-healthy.txt")))).all(["FS-003"]);
    expect(required[0]).toMatchObject({ status: "skip", observed: "blocked by SVC-005 (failed)" }); // the root cause says it
  });
  test("a healthy variant, 0400 root:root, passes", async () => {
    expect(await run(st(0o400, 0, 0))).toMatchObject({ status: "pass", observed: `${env} root:root 0400` });
  });
  test("0640 root:adm fails, judged against the running process's groups", async () => {
    expect(await run(st(0o640, 0, 4))).toMatchObject({
      status: "fail",
      observed: `${env} root:adm 0640: group 4 may read it and is neither root nor one of the service's groups (33) (service ids from the running process's credentials (pid 70: uid 999, gid 33, groups 33))`,
    });
  });
  test("service down: the unit's groups from /etc/passwd and /etc/group, said so", async () => {
    const r = await run(st(0o640, 0, 4), recorded("systemctl-show-healthy.txt").replace("MainPID=70", "MainPID=0"));
    expect(r).toMatchObject({
      status: "fail",
      observed: expect.stringContaining(
        "neither root nor one of the service's groups (997,33) (service ids from the unit's User=/Group= from /etc/passwd: the service is not running)",
      ),
    });
  });
});

describe("FS-005: one bounded find", () => {
  const rec = JSON.parse(recorded("find-world-writable.json")) as Record<string, { exitCode: number; stdout: string; stderr: string }>;
  // Recorded when records ended in a newline; find now ends them in NUL (-printf "%m %p\0"): the same records, reframed.
  // The test after these runs the real command on a real tree in the new framing.
  const get = (k: string) => {
    const r = rec[k] as { exitCode: number; stdout: string; stderr: string };
    return { ...r, stdout: r.stdout.replaceAll("\n", "\0") };
  };
  const fs5 = async (reply: { exitCode: number; stdout: string; stderr: string } | Error) => {
    const t = replayTransport({ sh: reply });
    const [r] = await new Evaluator(replayContext(t)).all(["FS-005"]);
    return { r, argv: t.calls[0] ?? [] };
  };

  test("the healthy host: nothing found passes; the command is find -H -xdev through sh with a line cap", async () => {
    const { r, argv } = await fs5(get("healthy: /opt/projectmeats, cap 200"));
    expect(r).toMatchObject({ status: "pass", observed: "nothing world-writable under /opt/projectmeats (find -xdev)" });
    expect(argv[2]).toContain('find -H "$1" -xdev -perm -0002 ! -type l');
    expect(argv.slice(3)).toEqual(["sh", "/opt/projectmeats", "201"]);
  });

  test("hits are listed (sticky directories excepted, their contents not)", async () => {
    const { r } = await fs5(get("six world-writable files in media (one inside a sticky 1777 dir), cap 200"));
    expect(r?.status).toBe("fail");
    expect(r?.observed).toMatch(/^6 world-writable: \/opt\/projectmeats\/backend\/media\/ww3 666, /);
    expect(parseFind(get("six world-writable files in media (one inside a sticky 1777 dir), cap 200").stdout, "find-exit 0\n", "/x").hits).toContain(
      "666 /opt/projectmeats/backend/media/sticky/inner",
    );
  });

  test("a name with a newline planted to forge a record stays one path (the real find, on a real tree)", async () => {
    const root = mkdtempSync(path.join(tmpdir(), "ddv-find-"));
    const forged = path.join(root, "a\n1777 ");
    mkdirSync(forged);
    chmodSync(forged, 0o777);
    const ctx = replayContext(createLocalTransport());
    const { hits } = await findWorldWritable(ctx, root);
    expect(hits).toEqual([`777 ${forged}`]);
    expect(parseModeLines(hits)).toEqual([{ path: forged, mode: 0o777 }]);
    const [r] = await new Evaluator(replayContext(createLocalTransport(), { projectDir: root })).all(["FS-005"]);
    expect(r?.observed).toBe(`1 world-writable: ${root}/a\\n1777  777`);
    rmSync(root, { recursive: true });
  });

  test("more hits than the cap: at most cap read, said as 'more than'", async () => {
    const { r } = await fs5(get("3000 more under /opt/projectmeats, cap 200"));
    expect(r).toMatchObject({ status: "fail", observed: expect.stringMatching(/^more than 200 world-writable: /) });
    const p = parseFind(get("3000 more under /opt/projectmeats, cap 200").stdout, "find-exit 141\n", "/x", 200);
    expect(p).toMatchObject({ more: true });
    expect(p.hits).toHaveLength(200);
  });

  test("find failing (missing dir, permission denied with hits so far, timeout) is an error, never a pass", async () => {
    expect((await fs5(get("missing project dir"))).r).toMatchObject({
      status: "error",
      observed: expect.stringContaining("find under /opt/projectmeats exited 1: find: ‘/opt/no-such-dir’: No such file or directory"),
    });
    expect((await fs5(get("as nobody, a subdirectory it cannot read"))).r).toMatchObject({
      status: "error",
      observed: expect.stringContaining("Permission denied; not every path was looked at"),
    });
    expect((await fs5(new TransportError("sh timed out after 20000 ms", "ETIMEDOUT"))).r).toMatchObject({
      status: "error",
      observed: expect.stringContaining("timed out"),
    });
    expect((await fs5({ exitCode: 137, stdout: "", stderr: "" })).r?.status).toBe("error"); // killed before it said how find ended
  });
});
