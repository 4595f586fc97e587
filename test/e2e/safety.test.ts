import { afterAll, beforeAll, expect, test } from "vitest";
import { REPO_ROOT } from "../../fixtures/host/paths.ts";
import { describeE2E } from "./e2e.ts";
import { hostCli, validateInside } from "./hosts.ts";
import { changes, remediateInside, shInside, snapshot, STATE_DIR } from "./remediation-helpers.ts";

// Root's remediation turned against its host, as an attacker who owns the app would try: links planted in every
// directory the service can write and a directory name forged to look like two find records. Nothing outside the
// deployment may change, whatever the validator, remediate and both emergency playbooks do; and a remediation
// killed mid-step is put back by `remediate rollback latest`.
const HOST = "e2e-safety";
const KILLED = "e2e-sigkill";
const MEDIA = "/opt/projectmeats/backend/media";
// The deployment's own files: the fixes and playbooks may change these, nothing else.
const DEPLOYMENT = [
  "/etc/projectmeats",
  "/etc/systemd/system/projectmeats.service",
  "/etc/systemd/system/projectmeats.service.d",
  "/etc/systemd/system/multi-user.target.wants/projectmeats.service",
];
const outside = (p: string) => !DEPLOYMENT.some((d) => p === d || p.startsWith(`${d}/`));

const PLANT = String.raw`set -e
for d in $(runuser -u projectmeats -- find / -xdev -type d -writable 2>/dev/null); do
  runuser -u projectmeats -- ln -s /etc/shadow "$d/ddv-planted.log"
done
runuser -u projectmeats -- ln -s /tmp ${MEDIA}/evil
runuser -u projectmeats -- mkdir "${MEDIA}/evil
777 "
runuser -u projectmeats -- chmod 777 "${MEDIA}/evil
777 "`;

describeE2E("remediation as root cannot be turned against its host", () => {
  beforeAll(async () => {
    const ups = await Promise.all([hostCli(["up", "--name", HOST]), hostCli(["up", "--name", KILLED, "--scenario", "debug-on"])]);
    for (const up of ups) expect(up.exitCode, up.stderr).toBe(0);
  }, 600_000);
  afterAll(async () => {
    await Promise.all([HOST, KILLED].map((h) => hostCli(["down", h])));
  });

  // Two hosts, one test each: they run side by side.
  test.concurrent("links planted wherever the service can write, and a forged name: no file outside the deployment changes", { timeout: 900_000 }, async () => {
    expect((await shInside(HOST, PLANT)).exitCode).toBe(0);
    // /etc holds every planted link's target; /tmp and /var/tmp are watched by their own mode (their content is
    // everyone's scratch space: systemd's private dirs and tsx's cache come and go).
    const roots = ["/etc"];
    const before = await snapshot(HOST, roots);
    const v = await validateInside(HOST, [], "safety");
    expect(v.exitCode, v.output).toBe(1);
    const rm = await remediateInside(HOST, ["--from-report", "reports/e2e/safety", "--yes"]);
    const out = `${rm.stdout}\n${rm.stderr}`;
    // The planted log is named and left alone; the forged directory is one path, escaped, and fixed itself.
    expect(out).toContain("/var/log/projectmeats/ddv-planted.log is a symbolic link (to /etc/shadow): remove it (root does not act through links)");
    expect(out).toContain(`chmod 775 ${MEDIA}/evil\\n777 `);
    expect(out).toMatch(/ok {3}fix-permissions \(FS-005\): verified/);
    expect(out.split("\n").filter((l) => /^777 /.test(l))).toEqual([]);
    expect((await shInside(HOST, `stat -c %a "${MEDIA}/evil\n777 " /tmp`)).stdout.trim().split("\n")).toEqual(["775", "1777"]);
    // The playbooks, with the Gunicorn logs themselves swapped for links by the service user.
    await shInside(
      HOST,
      "cd /var/log/projectmeats && runuser -u projectmeats -- sh -c 'rm -f error.log access.log && ln -s /etc/shadow error.log && ln -s /etc/passwd access.log'",
    );
    // The logs are links, so the service cannot start whatever a playbook does: a short wait for green (8 s, not 60)
    // is enough to see that; what is tested is what the playbooks touch, not whether they succeed.
    await shInside(HOST, `printf '{"remediation":{"restartWaitSeconds":8}}' > /root/short.json`);
    for (const p of ["emergency-restart", "emergency-reset"]) {
      const r = await remediateInside(HOST, [p, "--yes"], { DEPLOY_CONFIG: "/root/short.json" });
      const said = `${r.stdout}\n${r.stderr}`;
      expect(said, p).not.toMatch(/internal error|^\s+at /m);
      if (p === "emergency-reset") {
        expect(said).toContain("/var/log/projectmeats/error.log left alone: it is a symbolic link (to /etc/shadow), and root does not act through links");
        expect(said).toContain("/var/log/projectmeats/access.log left alone: it is a symbolic link (to /etc/passwd), and root does not act through links");
      }
    }
    const after = await snapshot(HOST, roots);
    expect(changes(before, after).filter((c) => outside(c.path))).toEqual([]);
    expect(after.get("/etc/shadow")).toMatchObject({ owner: "root:shadow", mode: "640" });
    expect((await shInside(HOST, "stat -c '%a %U:%G' /tmp /var/tmp")).stdout.trim().split("\n")).toEqual(["1777 root:root", "1777 root:root"]);
  });

  test.concurrent("remediate killed with SIGKILL mid-step, or stopped by TERM: `rollback latest` restores every file byte-identical and the lock is free", {
    timeout: 900_000,
  }, async () => {
    // The env file: bytes, owner and mode. The log: owner and mode (the running Gunicorn keeps appending to it).
    const env = "/etc/projectmeats/projectmeats.env";
    const acl = `cd /tmp && runuser -u postgres -- psql -XAtq -d projectmeats_db -c "select nspowner::regrole, nspacl from pg_namespace where nspname = 'public'"`;
    const state = `stat -c '%n %a %U:%G %s' ${env} && sha256sum ${env} && stat -c '%n %a %U:%G' /var/log/projectmeats/error.log; systemctl is-enabled projectmeats; ${acl}`;
    // Four kinds of step: grant-schema (SQL, its undo recorded first), fix-permissions (chown, chmod) on a root-owned
    // log, set-debug-false (a file write) and enable-service (a unit change, recorded in the manifest before it is made).
    await shInside(
      KILLED,
      "chown root:root /var/log/projectmeats/error.log && chmod 644 /var/log/projectmeats/error.log && systemctl disable projectmeats && cd /tmp && runuser -u postgres -- psql -q -d projectmeats_db -c 'ALTER SCHEMA public OWNER TO postgres'",
    );
    const v = await validateInside(KILLED, [], "sigkill");
    expect(v.exitCode).toBe(1);
    const original = (await shInside(KILLED, state)).stdout;
    for (const [fix, signal] of [
      ["grant-schema", "KILL"],
      ["fix-permissions", "KILL"],
      ["set-debug-false", "KILL"],
      ["set-debug-false", "TERM"],
      ["enable-service", "KILL"],
    ] as const) {
      await killIn(fix, signal, "reports/e2e/sigkill");
      if (signal === "TERM") {
        const said = (await shInside(KILLED, "cat /tmp/rm.out")).stdout;
        expect(said, said).toMatch(/SIGTERM: the step under way is rolled back, then remediate stops/);
        // The signal is sent once set-debug-false has started; on a busy machine it may land a step later. Whatever
        // the moment, the step under way is undone and the steps before it, in plan order, are named as kept with the
        // command that undoes them (which the rollback below runs).
        expect(said, said).toMatch(
          /interrupted by SIGTERM: kept, not verified: grant-schema, fix-permissions(, set-debug-false(, enable-service)?)?; undo them with `npx tsx remediate rollback \d{8}T\d{6}Z?-[0-9a-f]+`/,
        );
        expect(said, said).toMatch(/rc=130/);
      }
      const rb = await remediateInside(KILLED, ["rollback", "latest", "--yes"]);
      expect(rb.exitCode, `${rb.stdout}\n${rb.stderr}`).toBe(0);
      expect(rb.stdout).toMatch(/rolled back: \d+ path\(s\)/);
      if (fix === "enable-service") expect(rb.stdout).toMatch(/disable projectmeats\.service \(it was disabled before enable-service\)/);
      expect((await shInside(KILLED, state)).stdout, fix).toBe(original);
      // Again: the same state, nothing else.
      expect((await remediateInside(KILLED, ["rollback", "latest", "--yes"])).exitCode).toBe(0);
      expect((await shInside(KILLED, state)).stdout, fix).toBe(original);
      expect((await shInside(KILLED, `flock -n ${STATE_DIR}/remediation.lock true && echo free`)).stdout.trim(), fix).toBe("free");
    }

    // mkdir: the log directory moved aside (the running Gunicorn keeps its open files), so fix-permissions makes it
    // again; killed in that step, the rollback removes what the step created and nothing else.
    await shInside(KILLED, "mv /var/log/projectmeats /var/log/projectmeats.aside");
    try {
      const gone = `test -e /var/log/projectmeats && echo present || echo absent; stat -c '%n %a %U:%G %s' ${env} && sha256sum ${env}; ${acl}`;
      const v2 = await validateInside(KILLED, [], "sigkill-mkdir");
      expect(v2.results.filter((r) => r.status === "fail").map((r) => r.id)).toContain("FS-002");
      const before = (await shInside(KILLED, gone)).stdout;
      expect(before).toMatch(/^absent/);
      await killIn("fix-permissions", "KILL", "reports/e2e/sigkill-mkdir");
      for (let i = 0; i < 2; i++) {
        const rb = await remediateInside(KILLED, ["rollback", "latest", "--yes"]);
        expect(rb.exitCode, `${rb.stdout}\n${rb.stderr}`).toBe(0);
        expect((await shInside(KILLED, gone)).stdout, "mkdir").toBe(before);
      }
      expect((await shInside(KILLED, `flock -n ${STATE_DIR}/remediation.lock true && echo free`)).stdout.trim(), "mkdir").toBe("free");
    } finally {
      await shInside(KILLED, "rm -rf /var/log/projectmeats && mv /var/log/projectmeats.aside /var/log/projectmeats");
    }
  });
});

// Starts remediate on the report and signals it the moment `fix` has started and recorded its first change: the
// step is under way. KILL reaches the whole session (a power loss); TERM only remediate's own process (its pid from
// the lock it holds: a pattern match could hit a child caught between fork and exec), which rolls the step back and stops.
async function killIn(fix: string, signal: "KILL" | "TERM", report: string) {
  const script = `cd '${REPO_ROOT}' && : > /tmp/rm.out
setsid npx tsx remediate --from-report ${report} --yes --force-stale </dev/null >/tmp/rm.out 2>&1 &
for i in $(seq 3000); do grep -q '"fix":"${fix}".*"result":"started"' ${STATE_DIR}/audit.jsonl 2>/dev/null && grep -q '"fix": "${fix}"' "$(ls -d ${STATE_DIR}/2*/ | tail -1)manifest.json" 2>/dev/null && break; sleep 0.02; done
sid=$(ps -o sid= -p $! | tr -d ' ')
if [ ${signal} = KILL ]; then pkill -KILL -s "$sid" || true; else kill -TERM "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' ${STATE_DIR}/remediation.lock)" || true; fi
wait $!; echo "rc=$?" >> /tmp/rm.out
: > ${STATE_DIR}/audit.jsonl`;
  expect((await shInside(KILLED, script)).exitCode).toBe(0);
}
