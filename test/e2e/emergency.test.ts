import { expect, test } from "vitest";
import { REPO_ROOT } from "../../fixtures/host/paths.ts";
import { describeE2E } from "./e2e.ts";
import { hostCli, idsWith, validateInside } from "./hosts.ts";

// Starts a Gunicorn of the project by hand (the service's user, the venv, the env file), detached, on port $1.
const BY_HAND = String.raw`
cd /opt/projectmeats/backend
set -a; . /etc/projectmeats/projectmeats.env; set +a
export DJANGO_SETTINGS_MODULE=apps.settings.production
setsid setpriv --reuid=projectmeats --regid=www-data --init-groups /opt/projectmeats/venv/bin/gunicorn --bind 127.0.0.1:$1 --workers 2 projectmeats.wsgi:application </dev/null >/dev/null 2>&1 &
for i in $(seq 1 150); do curl -s -o /dev/null --max-time 1 http://127.0.0.1:$1/health/ && exit 0; sleep 0.2; done; exit 1
`;

const sh = (host: string, script: string, ...args: string[]) => hostCli(["exec", host, "--", "sh", "-c", script, "sh", ...args], { timeoutMs: 240_000 });
const remediate = (host: string, args: string, env = "") => sh(host, `cd "$1" && ${env} npx tsx remediate ${args} </dev/null`, REPO_ROOT);
const byHand = async (host: string, port: number) => expect((await sh(host, BY_HAND, String(port))).exitCode, `gunicorn by hand on ${port}`).toBe(0);
// The master of the hand-started Gunicorn on `port` (the oldest process naming that bind).
const masterOn = async (host: string, port: number) => (await sh(host, `pgrep -o -f "gunicorn --bind 127.0.0.1:$1 "`, String(port))).stdout.trim();
const isAlive = async (host: string, pid: string) => (await sh(host, `kill -0 "$1"`, pid)).exitCode === 0;
const sums = (host: string) =>
  sh(
    host,
    "sha256sum /etc/systemd/system/projectmeats.service /etc/systemd/system/projectmeats.service.d/*.conf 2>/dev/null; stat -c '%n %a %U:%G' /etc/systemd/system/projectmeats.service /etc/systemd/system/projectmeats.service.d/*.conf",
  );

// The smoke gate is green. One second try only when every red check merely timed out ("no answer within"): the
// hosts share two loaded cores, and a site restarted seconds ago may miss a 3 s HTTP timeout once.
async function smokeGreen(host: string, label: string) {
  let v = await validateInside(host, ["specs/smoke"], label);
  const redRows = v.results.filter((r) => r.status === "fail" || r.status === "error");
  if (redRows.length && redRows.every((r) => r.observed.includes("no answer within"))) v = await validateInside(host, ["specs/smoke"], `${label}-2`);
  const red = v.results.filter((r) => r.status === "fail" || r.status === "error").map((r) => `${r.id} ${r.status}: ${r.observed}`);
  expect(red, v.output.slice(-3000)).toEqual([]);
  expect(v.exitCode).toBe(0);
}

async function withHost(name: string, scenario: string | undefined, body: (host: string) => Promise<void>) {
  const up = await hostCli(["up", ...(scenario ? ["--scenario", scenario] : []), "--name", name]);
  try {
    expect(up.exitCode, up.stderr).toBe(0);
    await body(name);
  } finally {
    expect((await hostCli(["down", name])).exitCode).toBe(0);
  }
}

describeE2E("emergency playbooks", () => {
  // One host per test, two at a time (maxConcurrency).
  test.concurrent("emergency-restart on a crash loop: says why while the app is broken; green once it is fixed; another project gunicorn lives", {
    timeout: 900_000,
  }, async () => {
    await withHost("e2e-em-loop", "app-import-error", async (host) => {
      // While the settings raise, a restart cannot help: it says so, with the crash cause, and exits 1.
      await sh(host, `printf '{"remediation":{"restartWaitSeconds":8}}' > /root/short.json`);
      const broken = await remediate(host, "emergency-restart --yes", "DEPLOY_CONFIG=/root/short.json");
      expect(broken.exitCode, broken.stdout + broken.stderr).toBe(1);
      expect(broken.stdout).toContain("bad deploy: settings cannot load");
      // emergency-reset refuses to restart on code that does not import, and rolls the unit back byte-identical.
      const before = (await sums(host)).stdout;
      const reset = await remediate(host, "emergency-reset --yes");
      expect(reset.exitCode, reset.stdout + reset.stderr).toBe(1);
      expect(reset.stdout).toContain("ROLLED BACK");
      expect((await sums(host)).stdout).toBe(before);
      // The deploy is fixed; a Gunicorn of the project runs by hand on another port and must survive.
      await sh(host, `sed -i '/bad deploy: settings cannot load/d' /opt/projectmeats/backend/apps/settings/production.py`);
      await byHand(host, 8111);
      const other = await masterOn(host, 8111);
      const r = await remediate(host, "emergency-restart --yes");
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/\[\d+\] stop projectmeats\.service: ok \(\d+\.\d s\)/);
      expect(await isAlive(host, other), `pid ${other} on 8111 survives`).toBe(true);
      await smokeGreen(host, "em-loop-after");
      const audit = await sh(host, "tail -n 1 /var/lib/ddv/remediation/audit.jsonl");
      expect(JSON.parse(audit.stdout)).toMatchObject({ fix: "emergency-restart", result: "green" });
    });
  });

  test.concurrent("emergency-restart with a stale gunicorn started by hand on the port: it is stopped, the unit comes up green, a gunicorn on another port lives", {
    timeout: 900_000,
  }, async () => {
    await withHost("e2e-em-stale", undefined, async (host) => {
      await sh(host, "systemctl stop projectmeats");
      await byHand(host, 8000);
      await byHand(host, 8111);
      const stale = await masterOn(host, 8000);
      const other = await masterOn(host, 8111);
      // "Connection in use": the unit loops; waited on until systemd has restarted it once.
      await sh(
        host,
        'systemctl start projectmeats; for i in $(seq 600); do [ "$(systemctl show -p NRestarts --value projectmeats)" -ge 1 ] && break; sleep 0.1; done',
      );
      const r = await remediate(host, "emergency-restart --yes");
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain(`Gunicorn of this project started by hand: master pid ${stale}`);
      expect(await isAlive(host, stale), `stale pid ${stale} is stopped`).toBe(false);
      expect(await isAlive(host, other), `pid ${other} on 8111 survives`).toBe(true);
      // The survivors are listed by pid; the other project's master is among them, whatever its pid.
      expect(r.stdout).toMatch(new RegExp(`left alone \\(not in projectmeats\\.service's cgroup, not holding its ports\\): .*\\bpid ${other} \\(`));
      await smokeGreen(host, "em-stale-after");
    });
  });

  test.concurrent("emergency-restart with a stale gunicorn started by hand on the unit's unix socket: it is named like a port holder and stopped", {
    timeout: 900_000,
  }, async () => {
    // unix-socket-nginx-denied: the unit binds unix:/run/projectmeats/gunicorn.sock (its RuntimeDirectory).
    await withHost("e2e-em-unix", "unix-socket-nginx-denied", async (host) => {
      const sock = "/run/projectmeats/gunicorn.sock";
      const byHandUnix = BY_HAND.replace("http://127.0.0.1:$1/health/", "--unix-socket $1 http://localhost/health/").replace("127.0.0.1:$1", "unix:$1");
      await sh(host, "systemctl stop projectmeats && install -d -o projectmeats -g www-data /run/projectmeats");
      expect((await sh(host, byHandUnix, sock)).exitCode, "gunicorn by hand on the socket").toBe(0);
      const stale = (await sh(host, `pgrep -o -f "gunicorn --bind unix:$1 "`, sock)).stdout.trim();
      // nginx stays denied the socket (the scenario), so HTTP-007 stays red: a short wait for green is enough.
      await sh(host, `printf '{"remediation":{"restartWaitSeconds":8}}' > /root/short.json`);
      const r = await remediate(host, "emergency-restart --yes", "DEPLOY_CONFIG=/root/short.json");
      expect(r.stdout, r.stdout + r.stderr).toMatch(new RegExp(`free unix socket ${sock}: ok.*Gunicorn of this project started by hand: master pid ${stale}`));
      expect(await isAlive(host, stale), `stale pid ${stale} is stopped`).toBe(false);
      expect((await sh(host, "systemctl is-active projectmeats")).stdout.trim()).toBe("active");
    });
  });

  test.concurrent("emergency-restart never kills a listener that is not a gunicorn of this project (rogue-listener): it names it and exits 1", {
    timeout: 600_000,
  }, async () => {
    await withHost("e2e-em-rogue", "rogue-listener", async (host) => {
      await sh(host, `printf '{"remediation":{"restartWaitSeconds":8}}' > /root/short.json`);
      const r = await remediate(host, "emergency-restart --yes", "DEPLOY_CONFIG=/root/short.json");
      expect(r.exitCode, r.stdout + r.stderr).toBe(1);
      expect(r.stdout).toMatch(/port 8000 is held by pid \d+ \([^)]*http\.server[^)]*; unit stray-devserver\.service\).*not killed/);
      expect((await sh(host, "systemctl is-active stray-devserver")).stdout.trim()).toBe("active");
    });
  });

  test.concurrent("emergency-reset on a unit whose drop-in disabled Restart=: dry run changes nothing; reset is green with a backup", {
    timeout: 900_000,
  }, async () => {
    await withHost("e2e-em-reset", "restart-disabled", async (host) => {
      const before = (await sums(host)).stdout;
      const dry = await remediate(host, "emergency-reset --dry-run");
      expect(dry.exitCode, dry.stdout + dry.stderr).toBe(0);
      expect(dry.stdout).toContain("-Restart=no");
      expect(dry.stdout).toContain("dry run: nothing was changed");
      expect((await sums(host)).stdout).toBe(before);
      const r = await remediate(host, "emergency-reset --yes");
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      const dir = r.stdout.match(/backups in (\S+?)\)?:/)?.[1] as string;
      expect(dir).toMatch(/^\/var\/lib\/ddv\/remediation\//);
      const manifest = JSON.parse((await sh(host, `cat "$1/manifest.json"`, dir)).stdout) as { files: Array<{ path: string; copy?: string }> };
      const dropin = manifest.files.find((f) => f.path.endsWith("ddv-scenario.conf"));
      expect(dropin?.copy).toBeTruthy();
      expect((await sh(host, `cat "$1"`, dropin?.copy as string)).stdout).toContain("Restart=no");
      expect(manifest.files.map((f) => f.path)).toContain("/etc/systemd/system/projectmeats.service");
      await smokeGreen(host, "em-reset-after");
      const svc = await validateInside(host, ["specs/service"], "em-reset-service");
      expect(idsWith(svc.results, "fail"), svc.output.slice(-2000)).not.toContain("SVC-009");
    });
  });
});
