import { describe, expect, test } from "vitest";
import { access, serviceAccount } from "../../src/probes/files.ts";
import { accessCommand, accessCommands, mountOf, parseAccessOutput, parseStatus, type Want } from "../../src/probes/sandbox.ts";
import { Evaluator } from "../../src/runner/evaluate.ts";
import { type FileStat, TransportError } from "../../src/transport/types.ts";
import { healthyCommands } from "./healthy-replay.ts";
import { recorded, replayContext, replayTransport } from "./replay.ts";

// Recorded on a reference host under scenario log-dir-outside-sandbox (ReadWritePaths= names only the two
// Gunicorn log files): the service's status, mount table and the real answers of one nsenter command.
const show = recorded("systemctl-show-healthy.txt"); // MainPID=70
const status = recorded("sandbox-proc-status.txt");
const mountinfo = recorded("sandbox-mountinfo.txt");
const nsenter = JSON.parse(recorded("sandbox-nsenter-access.json")) as { requests: Array<{ path: string; want: Want }>; stdout: string };
const noProcess = JSON.parse(recorded("sandbox-nsenter-no-process.json")) as { exitCode: number; stdout: string; stderr: string };
const answers = new Map(nsenter.requests.map((r, i) => [`${r.want} ${r.path}`, nsenter.stdout.split("\n")[i] as string]));

const dir = (mode: number, uid = 999, gid = 33): FileStat => ({ mode, uid, gid, isDirectory: true, isFile: false, size: 4096 });
const file = (mode: number, uid = 999, gid = 33): FileStat => ({ mode, uid, gid, isDirectory: false, isFile: true, size: 10 });
// The host's files as `ls -l` showed them (stat from outside, as root).
const files: Record<string, string | FileStat> = {
  "/etc/passwd": "root:x:0:0:root:/root:/bin/bash\nprojectmeats:x:999:997::/opt/projectmeats:/usr/sbin/nologin\n",
  "/etc/group": "root:x:0:\nwww-data:x:33:projectmeats\nprojectmeats:x:997:\n",
  "/proc/70/status": status,
  "/proc/70/mountinfo": mountinfo,
  "/opt": dir(0o755, 0, 0),
  "/opt/projectmeats": dir(0o755),
  "/opt/projectmeats/backend": dir(0o755),
  "/opt/projectmeats/backend/manage.py": file(0o755),
  "/opt/projectmeats/backend/projectmeats": dir(0o755),
  "/opt/projectmeats/backend/projectmeats/wsgi.py": file(0o644),
  "/opt/projectmeats/venv": dir(0o755),
  "/opt/projectmeats/venv/bin": dir(0o755),
  "/opt/projectmeats/venv/bin/gunicorn": file(0o755),
  "/var": dir(0o755, 0, 0),
  "/var/log": dir(0o755, 0, 0),
  "/var/log/projectmeats": dir(0o775),
  "/var/log/projectmeats/access.log": file(0o664),
  "/var/log/projectmeats/django.log": file(0o664),
  "/var/log/projectmeats/error.log": file(0o664),
};

// A host that answers nsenter per request with the recorded line for that request, and lists the log dir.
function host(opts: { show?: string; nsenter?: "recorded" | typeof noProcess; files?: Record<string, string | FileStat | undefined> } = {}) {
  const t = replayTransport(healthyCommands(opts.show ?? show), { ...files, ...opts.files } as Record<string, string | FileStat>);
  const base = t.run.bind(t);
  t.run = async (argv, o) => {
    if (argv[0] !== "nsenter") return base(argv, o);
    t.calls.push(argv);
    if (opts.nsenter && opts.nsenter !== "recorded") return { durationMs: 1, ...opts.nsenter };
    const pairs = argv.slice(argv.indexOf("sh", 12) + 1);
    const lines = [];
    for (let i = 0; i < pairs.length; i += 2) lines.push(answers.get(`${pairs[i]} ${pairs[i + 1]}`) ?? "noent 1 -");
    return { exitCode: 0, stdout: `${lines.join("\n")}\nddv-access-end\n`, stderr: "", durationMs: 1 };
  };
  t.readDir = async (p) => (p === "/var/log/projectmeats" ? ["access.log", "django.log", "error.log"] : []);
  return t;
}
const nsenterCalls = (t: { calls: string[][] }) => t.calls.filter((c) => c[0] === "nsenter");

describe("access inside the service's sandbox, on recorded output", () => {
  test("the real uid, gid and groups come from /proc/PID/status, not /etc/passwd", () => {
    // /etc/passwd gives projectmeats gid 997 with www-data as a supplementary group; the process holds only 33.
    expect(parseStatus(status)).toEqual({ uid: 999, gid: 33, groups: [33] });
    // Recorded under runs-as-root: an empty Groups: line followed by NStgid:, which must not be read as groups.
    expect(parseStatus(recorded("sandbox-proc-status-root.txt"))).toEqual({ uid: 0, gid: 0, groups: [] });
  });

  test("one command: nsenter into the mount namespace, setpriv to the real ids, then access(2) tests", () => {
    const argv = accessCommand({ pid: 115, uid: 999, gid: 33, groups: [33] }, nsenter.requests);
    expect(argv.slice(0, 9)).toEqual(["nsenter", "-t", "115", "-m", "--", "setpriv", "--reuid=999", "--regid=33", "--groups=33"]);
    expect(argv.slice(-2)).toEqual(["r", "/opt/nothing/here"]);
    expect(accessCommand({ pid: 1, uid: 5, gid: 5, groups: [] }, [])).toContain("--clear-groups");
  });

  test("the recorded answers name the first obstacle: the path, an ancestor, or what does not exist", () => {
    const v = parseAccessOutput(nsenter.stdout, nsenter.requests) ?? [];
    const by = (p: string, w: string) => v[nsenter.requests.findIndex((r) => r.path === p && r.want === w)];
    expect(by("/opt/projectmeats/backend", "x")).toEqual({ kind: "ok", at: "/opt/projectmeats/backend", type: "d" });
    expect(by("/var/log/projectmeats", "w")).toEqual({ kind: "deny", at: "/var/log/projectmeats", type: "d" });
    expect(by("/var/log/projectmeats/error.log", "w")?.kind).toBe("ok"); // bind-mounted read-write by ReadWritePaths=
    expect(by("/var/log/projectmeats/django.log", "w")?.kind).toBe("deny");
    expect(by("/root/secret", "r")).toEqual({ kind: "nox", at: "/root", type: "-" }); // ProtectHome=true
    expect(by("/opt/nothing/here", "r")).toEqual({ kind: "noent", at: "/opt/nothing", type: "-" });
    expect(parseAccessOutput("ok 3 d\n", nsenter.requests)).toBeUndefined(); // cut short: not an answer
  });

  test("the mount a path lies on, from the service's mountinfo: / read-only, the log files bound read-write", () => {
    expect(mountOf(mountinfo, "/var/log/projectmeats")).toMatchObject({ point: "/" });
    expect(mountOf(mountinfo, "/var/log/projectmeats")?.options.has("ro")).toBe(true);
    expect(mountOf(mountinfo, "/var/log/projectmeats/error.log")?.options.has("ro")).toBe(false);
    expect(mountOf(mountinfo, "/opt/projectmeats/backend/media/x.png")?.point).toBe("/opt/projectmeats/backend/media");
  });

  test("SVC-004, SVC-006, FS-001 and FS-002 together start exactly one nsenter command", async () => {
    const t = host();
    const ctx = replayContext(t);
    const out = await new Evaluator(ctx).all(["SVC-004", "SVC-006", "FS-001", "FS-002"]);
    expect(nsenterCalls(t)).toHaveLength(1);
    expect(accessCommands(ctx)).toBe(1);
    expect(out.map((o) => o.status)).toEqual(["pass", "pass", "pass", "fail"]);
    const fs2 = out[3]?.observed ?? "";
    expect(fs2).toContain(
      "projectmeats cannot write /var/log/projectmeats (projectmeats:www-data 0775): read-only inside the service's sandbox (the mount at / is ro there; list it in ReadWritePaths=)",
    );
    expect(fs2).toContain("cannot write /var/log/projectmeats/django.log");
    expect(fs2).not.toContain("error.log");
    expect(fs2).toMatch(/\(as uid 999 \(gid 33, groups 33\) inside the service's mount namespace \(pid 70\)\)$/);
    expect(out[2]?.observed).toContain("as uid 999");
  });

  test("a denial the mode bits do not explain is named as an ACL or a security module", async () => {
    const t = host();
    const ctx = replayContext(t);
    // /root/secret: denied at /root, where ProtectHome=true mounted systemd's inaccessible directory.
    const r = await access(ctx, "/root/secret", await serviceAccount(ctx), "r");
    expect(r.ok).toBe(false);
    expect(r.ok ? "" : r.reason).toMatch(
      /^projectmeats cannot enter \/root: made inaccessible inside the service's sandbox \(ProtectHome=, InaccessiblePaths= or TemporaryFileSystem=\) \(as uid 999 /,
    );
    // Denied where no sandbox mount explains it and the bits allow it (the recorded answer replayed for /srv).
    answers.set("r /srv/app/x", "nox 2 -");
    const t2 = host({ files: { "/srv": dir(0o755, 0, 0), "/srv/app": dir(0o750, 0, 33) } });
    const ctx2 = replayContext(t2);
    const r2 = await access(ctx2, "/srv/app/x", await serviceAccount(ctx2), "r");
    expect(r2.ok ? "" : r2.reason).toContain(
      "projectmeats cannot enter /srv/app (root:www-data 0750): the mode bits allow it, so an ACL or a security module denies it",
    );
  });

  test("service down (MainPID=0): the mode-bit model judges, no nsenter, and the text says so", async () => {
    const t = host({ show: show.replace("MainPID=70", "MainPID=0"), files: { "/var/log/projectmeats": dir(0o755, 0, 0) } });
    const ctx = replayContext(t);
    const [fs2, fs1] = await new Evaluator(ctx).all(["FS-002", "FS-001"]);
    expect(nsenterCalls(t)).toHaveLength(0);
    expect(fs2).toMatchObject({
      status: "fail",
      observed: "projectmeats cannot write /var/log/projectmeats (root:root 0755) (modelled from mode bits: the service is not running)",
    });
    expect(fs1).toMatchObject({ status: "pass", observed: expect.stringContaining("(modelled from mode bits: the service is not running)") });
  });

  test("the process exited between systemctl show and nsenter: modelled from mode bits, said so", async () => {
    const t = host({ nsenter: noProcess });
    let reads = 0; // the first read finds it running, the one after nsenter failed finds it gone
    const read = t.readFile.bind(t);
    t.readFile = (p) =>
      p === "/proc/70/status" && reads++ > 0 ? Promise.reject(new TransportError("cannot read /proc/70/status: ENOENT", "ENOENT")) : read(p);
    const [fs2] = await new Evaluator(replayContext(t)).all(["FS-002"]);
    expect(nsenterCalls(t)).toHaveLength(1);
    expect(fs2).toMatchObject({
      status: "pass",
      observed: expect.stringContaining("modelled from mode bits: the service's process (pid 70) exited while we looked"),
    });
  });

  test("a zombie main process (its namespaces gone) counts as exited", async () => {
    const t = host({ nsenter: noProcess });
    let reads = 0;
    const read = t.readFile.bind(t);
    t.readFile = async (p) => (p === "/proc/70/status" && reads++ > 0 ? `Name:\tgunicorn\nState:\tZ (zombie)\n${status}` : read(p));
    const [fs1] = await new Evaluator(replayContext(t)).all(["FS-001"]);
    expect(fs1).toMatchObject({
      status: "pass",
      observed: expect.stringContaining("modelled from mode bits: the service's process (pid 70) exited while we looked"),
    });
  });

  test("a child systemd forked but has not exec'd yet (root, half-built sandbox): mode bits, no nsenter as root", async () => {
    const forked = recorded("sandbox-proc-status-root.txt").replace(/^Name:\tgunicorn$/m, "Name:\t(gunicorn)");
    const t = host({ files: { "/proc/70/status": forked, "/var/log/projectmeats": dir(0o755, 0, 0) } });
    const [fs2] = await new Evaluator(replayContext(t)).all(["FS-002"]);
    expect(nsenterCalls(t)).toHaveLength(0);
    expect(fs2).toMatchObject({
      status: "fail",
      observed: expect.stringContaining("the service's process (pid 70) was still being started by systemd ((gunicorn), not exec'd yet)"),
    });
  });

  test("nsenter failing while the process lives is an error, never a pass", async () => {
    const t = host({ nsenter: { exitCode: 1, stdout: "", stderr: "nsenter: reassociate to namespace 'ns/mnt' failed: Operation not permitted\n" } });
    const out = await new Evaluator(replayContext(t)).all(["SVC-004", "FS-001", "FS-002"]);
    expect(out.map((o) => o.status)).toEqual(["error", "skip", "error"]);
    expect(out[0]?.observed).toContain(
      "nsenter/setpriv into the service's mount namespace failed (exit 1): nsenter: reassociate to namespace 'ns/mnt' failed: Operation not permitted",
    );
    const t2 = host();
    const base = t2.run.bind(t2);
    t2.run = (argv, o) => (argv[0] === "nsenter" ? Promise.reject(new TransportError("nsenter timed out after 5000 ms", "ETIMEDOUT")) : base(argv, o));
    const [svc4] = await new Evaluator(replayContext(t2)).all(["SVC-004"]);
    expect(svc4).toMatchObject({ status: "error", observed: expect.stringContaining("timed out") });
  });
});
