import { beforeEach, describe, expect, test } from "vitest";
import { checkById } from "../../src/checks/index.ts";
import { appWritePaths, logsFromArgv, parseUnitSandbox, sandboxReadOnly } from "../../src/probes/app-writes.ts";
import { forgetServiceFacts, parseFacts, type SettingsFacts } from "../../src/probes/service-facts.ts";
import type { FileStat } from "../../src/transport/types.ts";
import { healthyCommands } from "./healthy-replay.ts";
import { recorded, replayContext, replayTransport } from "./replay.ts";

// Recorded with src/probes/service-facts.py on a reference host and on the tutorial flavour (database password
// replaced by REDACTED): the settings facts now carry MEDIA_ROOT, its storage, FILE_UPLOAD_TEMP_DIR and LOGGING's
// file handlers, and Gunicorn's facts its errorlog/accesslog.
const REFERENCE = recorded("service-facts-app-writes-reference.txt");
const TUTORIAL = recorded("service-facts-app-writes-tutorial.txt");
// Real answers of one nsenter access command (each path and its directory, for write) on a reference host: healthy;
// MEDIA_ROOT chown root:root + chmod 755 (fixtures/scenarios/media-not-writable.ts); a drop-in narrowing
// ReadWritePaths= to /var/log/projectmeats (media outside it); and `systemctl show -p ProtectSystem,...` with that
// drop-in while the service was stopped.
type Recorded = { requests: Array<{ path: string; want: string }>; stdout: string; sandbox: string };
const ACCESS = JSON.parse(recorded("app-writes-access.json")) as Record<string, Recorded> & { "ref-down-outside-rwp": { sandbox: string } };
// The sandbox's mount table recorded under log-dir-outside-sandbox, where the media directory had a rw mount of its own.
const MOUNTINFO = recorded("sandbox-mountinfo.txt");
const MOUNTINFO_NO_MEDIA_MOUNT = MOUNTINFO.split("\n")
  .filter((l) => !l.includes(" /opt/projectmeats/backend/media /opt/projectmeats/backend/media "))
  .join("\n");

beforeEach(() => forgetServiceFacts());

function settingsOf(stdout: string): { settings: SettingsFacts; gunicorn: { errorlog: string | null; accesslog: string | null } } {
  const f = parseFacts(stdout);
  if (!f?.django.ok || "error" in f.django.settings || !f.gunicorn.ok) throw new Error("recording has no settings");
  return { settings: f.django.settings, gunicorn: f.gunicorn as unknown as { errorlog: string | null; accesslog: string | null } };
}

describe("what the app writes, learned from Django and Gunicorn (recorded facts)", () => {
  test("reference host: MEDIA_ROOT, LOGGING's FileHandler and both Gunicorn log files, each with where it was learned", () => {
    const { settings, gunicorn } = settingsOf(REFERENCE);
    expect(settings).toMatchObject({
      MEDIA_ROOT: "/opt/projectmeats/backend/media",
      MEDIA_STORAGE: { backend: "django.core.files.storage.FileSystemStorage", location: "/opt/projectmeats/backend/media" },
      FILE_UPLOAD_TEMP_DIR: null,
      LOGGING_CONFIG: "logging.config.dictConfig",
      LOGGING_FILES: [{ handler: "file", class: "logging.FileHandler", filename: "/var/log/projectmeats/django.log", rotates: false }],
    });
    const w = appWritePaths(settings, { ...gunicorn, source: "loader" });
    expect(w.paths).toEqual([
      { path: "/var/log/projectmeats/error.log", kind: "file", sources: ["Gunicorn --error-logfile"] },
      { path: "/var/log/projectmeats/access.log", kind: "file", sources: ["Gunicorn --access-logfile"] },
      { path: "/opt/projectmeats/backend/media", kind: "tree", sources: ["MEDIA_ROOT from Django settings"] },
      { path: "/var/log/projectmeats/django.log", kind: "file", sources: ["LOGGING handler 'file' (logging.FileHandler)"] },
    ]);
    expect(w.unknown).toEqual([]);
    expect(w.toJournal).toEqual([]);
  });

  test('tutorial flavour: Gunicorn logs to "-" and LOGGING has no file handler: no file needed, said so; MEDIA_ROOT "" is the working directory', () => {
    const { settings, gunicorn } = settingsOf(TUTORIAL);
    const w = appWritePaths(settings, { ...gunicorn, source: "loader" });
    expect(w.paths).toEqual([
      { path: "/home/sammy/myprojectdir", kind: "tree", sources: ['MEDIA_ROOT from Django settings is "": uploads are saved in the working directory'] },
    ]);
    expect(w.toJournal).toEqual([
      'Gunicorn --error-logfile is "-" (stderr: the journal)',
      'Gunicorn --access-logfile is "-" (stdout: the journal)',
      "Django's LOGGING has no file handler (its records go to the console: the journal)",
    ]);
  });

  test("rotating handlers, FILE_UPLOAD_TEMP_DIR, a remote storage, and what could not be read", () => {
    const { settings } = settingsOf(REFERENCE);
    const w = appWritePaths(
      {
        ...settings,
        MEDIA_STORAGE: { backend: "storages.backends.s3.S3Storage", location: null },
        FILE_UPLOAD_TEMP_DIR: "/var/tmp/uploads",
        LOGGING_FILES: [
          { handler: "app", class: "logging.FileHandler", filename: "/srv/log/app.log", rotates: false },
          { handler: "rot", class: "logging.handlers.RotatingFileHandler", filename: "/srv/log/app.log", rotates: true },
        ],
      },
      { error: "ExecStart does not run gunicorn" },
    );
    expect(w.paths).toEqual([
      { path: "/var/tmp/uploads", kind: "dir", sources: ["FILE_UPLOAD_TEMP_DIR from Django settings"] },
      {
        path: "/srv/log/app.log",
        kind: "rotating",
        sources: ["LOGGING handler 'app' (logging.FileHandler)", "LOGGING handler 'rot' (logging.handlers.RotatingFileHandler)"],
      },
    ]);
    expect(w.notes).toContain("uploads go to storages.backends.s3.S3Storage, not to the file system (MEDIA_ROOT is not written)");
    expect(w.unknown).toEqual(["Gunicorn's log files: ExecStart does not run gunicorn"]);
    expect(appWritePaths({ error: "Django could not start: RuntimeError: bad deploy" }, { errorlog: "-", accesslog: null, source: "x" }).unknown).toEqual([
      "Django's settings: Django could not start: RuntimeError: bad deploy",
    ]);
  });

  test("Gunicorn's command line when its loader cannot run: later wins, GUNICORN_CMD_ARGS first, relative paths from WorkingDirectory", () => {
    const argv = ["gunicorn", "--log-file=logs/e.log", "--access-logfile", "-", "app.wsgi"];
    expect(logsFromArgv(argv, { GUNICORN_CMD_ARGS: "--error-logfile /x/e.log --access-logfile /x/a.log" }, "/srv/app")).toEqual({
      errorlog: "/srv/app/logs/e.log",
      accesslog: "-",
    });
    expect(logsFromArgv(["gunicorn", "app.wsgi"], {}, "/srv/app")).toEqual({ errorlog: "-", accesslog: null });
  });

  test("the unit's sandbox: outside ReadWritePaths under ProtectSystem=strict is read-only, the unit's own directories are not", () => {
    const sb = parseUnitSandbox(ACCESS["ref-healthy"].sandbox);
    expect(sb.protectSystem).toBe("strict");
    expect(sandboxReadOnly(sb, "/opt/projectmeats/backend/media/avatars")).toBeUndefined();
    expect(sandboxReadOnly(sb, "/run/projectmeats/x")).toBeUndefined();
    expect(sandboxReadOnly(sb, "/tmp/upload")).toBeUndefined(); // PrivateTmp=yes
    const narrowed = parseUnitSandbox(ACCESS["ref-down-outside-rwp"].sandbox);
    expect(sandboxReadOnly(narrowed, "/opt/projectmeats/backend/media")).toBe(
      "outside ReadWritePaths under ProtectSystem=strict (ReadWritePaths=/var/log/projectmeats)",
    );
    expect(sandboxReadOnly(parseUnitSandbox("ProtectSystem=full\nReadWritePaths=\n"), "/etc/app/x")).toBe(
      "under a directory ProtectSystem=full makes read-only",
    );
  });
});

const dir = (mode: number, uid = 999, gid = 33): FileStat => ({ mode, uid, gid, isDirectory: true, isFile: false, size: 4096 });
const file = (mode: number, uid = 999, gid = 33): FileStat => ({ mode, uid, gid, isDirectory: false, isFile: true, size: 10 });
const FILES: Record<string, string | FileStat> = {
  "/etc/passwd": "root:x:0:0:root:/root:/bin/bash\nprojectmeats:x:999:997::/opt/projectmeats:/usr/sbin/nologin\n",
  "/etc/group": "root:x:0:\nwww-data:x:33:projectmeats\nprojectmeats:x:997:\n",
  "/proc/70/status": recorded("sandbox-proc-status.txt"),
  "/proc/70/environ": recorded("proc-environ-healthy.txt"),
  "/proc/70/mountinfo": MOUNTINFO,
  "/opt": dir(0o755, 0, 0),
  "/opt/projectmeats": dir(0o755),
  "/opt/projectmeats/backend": dir(0o755),
  "/opt/projectmeats/backend/media": dir(0o775),
  "/var": dir(0o755, 0, 0),
  "/var/log": dir(0o755, 0, 0),
  "/var/log/projectmeats": dir(0o775),
  "/var/log/projectmeats/access.log": file(0o664),
  "/var/log/projectmeats/django.log": file(0o664),
  "/var/log/projectmeats/error.log": file(0o664),
};

// A reference host replayed: the recorded Python start, nsenter answering each request with the recorded line, the
// recorded `systemctl show -p ProtectSystem,...`.
function host(opts: { answers: Recorded; sandbox?: string; show?: string; facts?: string; files?: Record<string, string | FileStat | undefined> }) {
  const answers = new Map(opts.answers.requests.map((r, i) => [`${r.want} ${r.path}`, opts.answers.stdout.split("\n")[i] as string]));
  const t = replayTransport(
    {
      "systemctl show --no-pager projectmeats -p ProtectSystem": { stdout: opts.sandbox ?? opts.answers.sandbox },
      ...healthyCommands(opts.show),
      setpriv: { stdout: opts.facts ?? REFERENCE },
    },
    Object.fromEntries(Object.entries({ ...FILES, ...opts.files }).filter(([, v]) => v !== undefined)) as Record<string, string | FileStat>,
  );
  const base = t.run.bind(t);
  t.run = async (argv, o) => {
    if (argv[0] !== "nsenter") return base(argv, o);
    t.calls.push(argv);
    const pairs = argv.slice(argv.indexOf("sh", 12) + 1);
    const lines = [];
    for (let i = 0; i < pairs.length; i += 2) {
      const line = answers.get(`${pairs[i]} ${pairs[i + 1]}`);
      if (!line) throw new Error(`nothing recorded for ${pairs[i]} ${pairs[i + 1]}`);
      lines.push(line);
    }
    return { exitCode: 0, stdout: `${lines.join("\n")}\nddv-access-end\n`, stderr: "", durationMs: 1 };
  };
  return t;
}

// FS-007's own verdict (its roots, SVC-004 and the others, are proved elsewhere): a throw is an error.
async function fs007(t: ReturnType<typeof host>): Promise<{ status: string; observed: string }> {
  try {
    const v = await checkById("FS-007").run(replayContext(t));
    return { status: v.pass ? "pass" : "fail", observed: v.observed };
  } catch (err) {
    return { status: "error", observed: (err as Error).message };
  }
}

describe("FS-007 verdicts (recorded nsenter answers)", () => {
  test("is a critical smoke check without an automated fix (fix-permissions does not cover MEDIA_ROOT)", () => {
    const c = checkById("FS-007");
    expect([c.severity, c.smoke, c.fixId]).toEqual(["critical", true, undefined]);
  });

  test("healthy reference host: passes, naming each path and where it was learned; the log files are FS-002's", async () => {
    const v = await fs007(host({ answers: ACCESS["ref-healthy"] }));
    expect(v.status).toBe("pass");
    expect(v.observed).toBe(
      "writable by projectmeats (as uid 999 (gid 33, groups 33) inside the service's mount namespace (pid 70)): /opt/projectmeats/backend/media (MEDIA_ROOT from Django settings). " +
        "left to FS-002 (the config's log directory /var/log/projectmeats): /var/log/projectmeats/error.log (Gunicorn --error-logfile); /var/log/projectmeats/access.log (Gunicorn --access-logfile); /var/log/projectmeats/django.log (LOGGING handler 'file' (logging.FileHandler)). " +
        "FILE_UPLOAD_TEMP_DIR is unset: large uploads go to the system temp directory",
    );
  });

  test("MEDIA_ROOT root:root 755: fails with the owner, the mode and how it was judged", async () => {
    const t = host({ answers: ACCESS["ref-media-root755"], files: { "/opt/projectmeats/backend/media": dir(0o755, 0, 0) } });
    const v = await fs007(t);
    expect(v).toEqual({
      status: "fail",
      observed:
        "/opt/projectmeats/backend/media (MEDIA_ROOT from Django settings): projectmeats cannot write /opt/projectmeats/backend/media (root:root 0755) (as uid 999 (gid 33, groups 33) inside the service's mount namespace (pid 70))",
    });
    // The sandbox is not the cause here: its settings are not even asked.
    expect(t.calls.some((c) => c.includes("ProtectSystem,ReadWritePaths,RuntimeDirectory,StateDirectory,CacheDirectory,LogsDirectory,PrivateTmp"))).toBe(false);
  });

  test("MEDIA_ROOT outside ReadWritePaths: the mode bits allow it, the sandbox is named as the cause", async () => {
    const v = await fs007(host({ answers: ACCESS["ref-media-outside-rwp"], files: { "/proc/70/mountinfo": MOUNTINFO_NO_MEDIA_MOUNT } }));
    expect(v.status).toBe("fail");
    expect(v.observed).toBe(
      "/opt/projectmeats/backend/media (MEDIA_ROOT from Django settings): projectmeats cannot write /opt/projectmeats/backend/media (projectmeats:www-data 0775): read-only inside the service's sandbox (the mount at / is ro there; list it in ReadWritePaths=): outside ReadWritePaths under ProtectSystem=strict (ReadWritePaths=/var/log/projectmeats) (as uid 999 (gid 33, groups 33) inside the service's mount namespace (pid 70))",
    );
  });

  test("service down: modelled from mode bits, and the unit's ProtectSystem=/ReadWritePaths= still name the sandbox", async () => {
    const show = recorded("systemctl-show-healthy.txt").replace("MainPID=70", "MainPID=0");
    const down = host({ answers: ACCESS["ref-healthy"], show, sandbox: ACCESS["ref-down-outside-rwp"].sandbox });
    const v = await fs007(down);
    expect(down.calls.filter((c) => c[0] === "nsenter")).toHaveLength(0);
    expect(v).toMatchObject({
      status: "fail",
      observed:
        "/opt/projectmeats/backend/media (MEDIA_ROOT from Django settings): read-only inside the service's sandbox when it runs: outside ReadWritePaths under ProtectSystem=strict (ReadWritePaths=/var/log/projectmeats) (modelled from the unit's ProtectSystem= and ReadWritePaths=: the service is not running)",
    });
    const ok = await fs007(host({ answers: ACCESS["ref-healthy"], show }));
    expect(ok).toMatchObject({ status: "pass", observed: expect.stringContaining("(modelled from mode bits: the service is not running)") });
  });

  test("a MEDIA_ROOT that does not exist yet passes when its nearest existing parent is writable (Django creates it)", async () => {
    const answers = { ...ACCESS["ref-healthy"] };
    // Recorded lines reused: media missing ("noent 4 -"), its parent writable as the healthy log directory was.
    answers.stdout = answers.stdout.replace(/^ok 4 d$/m, "noent 4 -").replace(/^deny 3 d$/m, "ok 3 d");
    const v = await fs007(host({ answers, files: { "/opt/projectmeats/backend/media": undefined } }));
    expect(v).toMatchObject({
      status: "pass",
      observed: expect.stringContaining(
        "/opt/projectmeats/backend/media (MEDIA_ROOT from Django settings): does not exist yet, /opt/projectmeats/backend is writable (Django creates it)",
      ),
    });
  });

  test("Django's settings that cannot be read are an error, never a pass", async () => {
    const v = await fs007(host({ answers: ACCESS["ref-healthy"], facts: recorded("service-facts-broken.txt") }));
    expect(v.status).toBe("error");
    expect(v.observed).toContain("could not learn every path the app writes: Django's settings: Django could not start: RuntimeError");
  });
});
