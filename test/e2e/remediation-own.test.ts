import { afterAll, beforeAll, expect, test } from "vitest";
import { describeE2E } from "./e2e.ts";
import { hostCli, idsWith, siteHealthy, validateInside } from "./hosts.ts";
import { STATE_DIR, remediateInside, shInside } from "./remediation-helpers.ts";

// Issue 19 item 5 on one reference host, fault after fault, each remediated from a full run's report:
// (a) the service ran as root and root created its log file and media directories: moving it off root hands them over;
// (b) a second env file that repeats the operator's values is merged away (from a drop-in, then from the unit file);
//     one whose values differ is a manual step naming the keys, nothing changed, no value printed.

const HOST = "e2e-own-1";
const ENV_FILE = "/etc/projectmeats/projectmeats.env";
const UNIT = "/etc/systemd/system/projectmeats.service";
const DROPINS = "/etc/systemd/system/projectmeats.service.d";
const LOGS = "/var/log/projectmeats";
const MEDIA = "/opt/projectmeats/backend/media";
// Values only the shadowing files hold: no output may show them (they are not secret-named, so only masking hides them).
const EXTRA = "merge-me-9f3c1a7e";
const OTHER_KEY = "ddv-other-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ";
const outputs: string[] = [];

// Waits until Gunicorn answers (a restart's first seconds), at most 30 s.
const WAIT_HTTP = "for _ in $(seq 1 300); do curl -s -o /dev/null --max-time 1 http://127.0.0.1:8000/health/ && break; sleep 0.1; done";

async function sh(script: string) {
  const r = await shInside(HOST, `set -e\n${script}`);
  expect(r.exitCode, `${script}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

// A full validation whose failures must be exactly `red`; returns its report folder.
async function validate(label: string, red: string[]) {
  const v = await validateInside(HOST, [], label);
  expect(idsWith(v.results, "fail"), v.output).toEqual(red);
  expect(idsWith(v.results, "error"), v.output).toEqual([]);
  return v.dir;
}

async function remediate(report: string) {
  const r = await remediateInside(HOST, ["--from-report", report, "--yes"]);
  outputs.push(r.stdout, r.stderr);
  return r;
}

describeE2E("remediation finishes the job (issue 19 item 5)", () => {
  beforeAll(async () => {
    const up = await hostCli(["up", "--flavour", "reference", "--name", HOST], { timeoutMs: 600_000 });
    expect(up.exitCode, up.stderr).toBe(0);
  }, 900_000);

  afterAll(async () => {
    expect((await hostCli(["down", HOST])).exitCode).toBe(0);
  }, 120_000);

  test("(a) off root: the log file and media root created are handed to the unit's owner; the service starts and stays green", {
    timeout: 900_000,
  }, async () => {
    // runs-as-root, plus what root leaves behind: error.log recreated root:root 0640 (UMask=0027), media re-made by root.
    await sh(`mkdir -p ${DROPINS}
printf '[Service]\\nUser=root\\nGroup=root\\nCapabilityBoundingSet=CAP_DAC_OVERRIDE\\n' > ${DROPINS}/ddv-scenario.conf
systemctl daemon-reload
systemctl stop projectmeats
rm -f ${LOGS}/error.log
chown root:root ${MEDIA} && chmod 755 ${MEDIA} && mkdir -p ${MEDIA}/uploads && echo x > ${MEDIA}/uploads/a.txt
systemctl start projectmeats
${WAIT_HTTP}
[ "$(stat -c %U:%G ${LOGS}/error.log)" = root:root ]`);
    const report = await validate("own-root", ["SEC-008"]);
    const r = await remediate(report);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    // The plan lists each hand-over, one chown a path.
    for (const p of [`${LOGS}/error.log`, MEDIA, `${MEDIA}/uploads`, `${MEDIA}/uploads/a.txt`])
      expect(r.stdout).toContain(`- chown projectmeats:www-data ${p}`);
    expect(r.stdout).toMatch(/ok {3}unit-dropin \(SEC-008\): verified/);
    await validate("own-root-after", []);
    const owners = await sh(`stat -c '%U:%G %n' ${LOGS}/error.log ${MEDIA} ${MEDIA}/uploads ${MEDIA}/uploads/a.txt`);
    expect(owners.trim().split("\n")).toEqual(
      [`${LOGS}/error.log`, MEDIA, `${MEDIA}/uploads`, `${MEDIA}/uploads/a.txt`].map((p) => `projectmeats:www-data ${p}`),
    );
    expect((await sh("stat -c %U /proc/$(systemctl show -p MainPID --value projectmeats)")).trim()).toBe("projectmeats");
    const site = await siteHealthy(HOST);
    expect(site.healthy, site.detail).toBe(true);
  });

  test("(b) a copy loaded by a drop-in, with one key of its own: merged, its line dropped, SVC-019 green", { timeout: 900_000 }, async () => {
    await sh(`cp -p ${ENV_FILE} /opt/projectmeats/.env.shadow && echo 'DDV_NOTE=${EXTRA}' >> /opt/projectmeats/.env.shadow
printf '[Service]\\nEnvironmentFile=-/opt/projectmeats/.env.shadow\\n' > ${DROPINS}/ddv-own-env.conf
systemctl daemon-reload && systemctl restart projectmeats && ${WAIT_HTTP}`);
    const report = await validate("own-env-dropin", ["SVC-019"]);
    const r = await remediate(report);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain("+DDV_NOTE=<masked, new value>");
    expect(r.stdout).toMatch(/ok {3}merge-env-files \(SVC-019\): verified/);
    await validate("own-env-dropin-after", []);
    expect(await sh(`grep -c '^DDV_NOTE=${EXTRA}$' ${ENV_FILE}; cat ${DROPINS}/ddv-own-env.conf`)).toBe("1\n[Service]");
    expect(await sh(`stat -c '%U:%G %a' ${ENV_FILE}`)).toBe("projectmeats:www-data 640");
  });

  test("(b) a copy whose values differ: a manual step naming the keys and files, nothing changed, no value in any output", { timeout: 900_000 }, async () => {
    await sh(`cp -p ${ENV_FILE} /opt/projectmeats/.env.other
sed -i -e "s|^SECRET_KEY=.*|SECRET_KEY='${OTHER_KEY}'|" -e 's|^LOG_LEVEL=.*|LOG_LEVEL=WARNING|' /opt/projectmeats/.env.other
printf '[Service]\\nEnvironmentFile=-/opt/projectmeats/.env.other\\n' > ${DROPINS}/ddv-own-other.conf
systemctl daemon-reload && systemctl restart projectmeats && ${WAIT_HTTP}`);
    const files = `${ENV_FILE} /opt/projectmeats/.env.other ${DROPINS}/* ${UNIT}`;
    const state = `stat -c '%n %i %U:%G %a' ${files} && sha256sum ${files}`;
    const report = await validate("own-env-differ", ["SVC-019"]);
    const before = await sh(state);
    const r = await remediate(report);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(1);
    expect(r.stdout).toContain(
      `merge-env-files cannot act here: SECRET_KEY, LOG_LEVEL differ between ${ENV_FILE} and /opt/projectmeats/.env.other (values not shown)`,
    );
    expect(r.stdout).toMatch(/nothing to apply automatically/);
    expect(await sh(state)).toBe(before);
    await validate("own-env-differ-after", ["SVC-019"]);
    await sh(`rm ${DROPINS}/ddv-own-other.conf /opt/projectmeats/.env.other && systemctl daemon-reload && systemctl restart projectmeats && ${WAIT_HTTP}`);
  });

  test("(b) a copy named by the unit file itself: our drop-in resets the list without it, SVC-019 green", { timeout: 900_000 }, async () => {
    await sh(`cp -p ${ENV_FILE} /opt/projectmeats/.env.copy
sed -i 's|^EnvironmentFile=${ENV_FILE}$|&\\nEnvironmentFile=-/opt/projectmeats/.env.copy|' ${UNIT}
grep -qx 'EnvironmentFile=-/opt/projectmeats/.env.copy' ${UNIT}
systemctl daemon-reload && systemctl restart projectmeats && ${WAIT_HTTP}`);
    const report = await validate("own-env-unit", ["SVC-019"]);
    const r = await remediate(report);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    await validate("own-env-unit-after", []);
    expect(await sh(`sed -n '/^EnvironmentFile/p' ${DROPINS}/zz-ddv-env-files.conf`)).toBe(`EnvironmentFile=\nEnvironmentFile=${ENV_FILE}`);
    expect((await sh("systemctl show -p EnvironmentFiles projectmeats")).trim()).toBe(`EnvironmentFiles=${ENV_FILE} (ignore_errors=no)`);
  });

  test("no secret or shadowed value in any output, the audit log or a manifest", { timeout: 300_000 }, async () => {
    const env = await sh(`cat ${ENV_FILE}`);
    const key = env.match(/^SECRET_KEY='?([^'\n]+)'?$/m)?.[1] as string;
    const pw = env.match(/^DATABASE_URL=[a-z]+:\/\/[^:]*:([^@]*)@/m)?.[1] as string;
    expect(key.length).toBeGreaterThan(40);
    const logs = await sh(`cat ${STATE_DIR}/audit.jsonl ${STATE_DIR}/*/manifest.json`);
    for (const s of [key, pw, EXTRA, OTHER_KEY, "WARNING"])
      for (const o of [...outputs, logs]) expect(o.includes(s), `${s.slice(0, 4)}… shown in ${o.slice(0, 200)}`).toBe(false);
    expect(outputs.join("").length).toBeGreaterThan(0);
  });
});
