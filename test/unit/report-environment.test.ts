import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseEnvInfo } from "allure-js-commons/sdk/reporter";
import { stringifyEnvInfo } from "allure-js-commons/sdk/reporter";
import { describe, expect, test } from "vitest";
import { configFileUsed, gatherEnvironment, gitCommit, parseClusters, parseOsRelease } from "../../src/report/environment.ts";
import { replayContext, replayTransport } from "./replay.ts";

// Recorded on the reference host (Debian 12 image, fixtures/image).
const OS_RELEASE =
  'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n';
const CLUSTERS = "15 main 5432 online postgres /var/lib/postgresql/15/main /var/log/postgresql/postgresql-15-main.log\n";

describe("environment information", () => {
  test("reads the OS and PostgreSQL clusters as the host prints them", () => {
    expect(parseOsRelease(OS_RELEASE)).toBe("Debian GNU/Linux 12 (bookworm)");
    expect(parseOsRelease("ID=alpine\n")).toBeUndefined();
    expect(parseClusters(CLUSTERS)).toBe("15/main online, port 5432");
    expect(parseClusters(`${CLUSTERS}16 main 5433 down postgres /x /y\n`)).toBe("15/main online, port 5432; 16/main down, port 5433");
    expect(parseClusters("")).toBeUndefined();
  });

  test("names the validator's commit from .git without git (loose and packed refs, detached HEAD)", () => {
    const repo = mkdtempSync(path.join(tmpdir(), "ddv-git-"));
    mkdirSync(path.join(repo, ".git/refs/heads"), { recursive: true });
    writeFileSync(path.join(repo, ".git/HEAD"), "ref: refs/heads/main\n");
    writeFileSync(path.join(repo, ".git/packed-refs"), `# pack-refs\n${"a".repeat(40)} refs/heads/main\n`);
    expect(gitCommit(repo)).toBe("a".repeat(40));
    writeFileSync(path.join(repo, ".git/refs/heads/main"), `${"b".repeat(40)}\n`);
    expect(gitCommit(repo)).toBe("b".repeat(40));
    writeFileSync(path.join(repo, ".git/HEAD"), `${"c".repeat(40)}\n`);
    expect(gitCommit(repo)).toBe("c".repeat(40));
    expect(gitCommit(path.join(repo, "nowhere"))).toBe("unknown (ENOENT)");
  });

  test("names the config file used, or says the defaults were", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "ddv-cfg-"));
    expect(configFileUsed({}, dir)).toBe(`none (defaults; no ${dir}/deploy.config.json)`);
    writeFileSync(path.join(dir, "site.json"), "{}");
    expect(configFileUsed({ DEPLOY_CONFIG: "site.json" }, dir)).toBe(path.join(dir, "site.json"));
  });

  test("gathers every field, says why one is unknown, masks secrets, and survives the properties format", async () => {
    const secret = "s3cr=t:with\\odd chars";
    const t = replayTransport(
      {
        "psql --version": { stdout: "psql (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n" },
        pg_lsclusters: { stdout: CLUSTERS },
        "nginx -v": { stderr: "nginx version: nginx/1.22.1\n" },
        "systemctl --version": { stdout: "systemd 252 (252.39-1~deb12u2)\n+PAM +AUDIT\n" },
        setpriv: { exitCode: 1, stderr: `Traceback: bad DATABASE_URL postgres://app:${secret}@db/app\n` },
      },
      { "/etc/os-release": OS_RELEASE, "/proc/sys/kernel/hostname": "web-1\n", "/etc/machine-id": "0123\n", "/proc/sys/kernel/osrelease": "6.1.0\n" },
    );
    const ctx = replayContext(t);
    ctx.secrets = [secret];
    const env = await gatherEnvironment(ctx);
    expect(env).toMatchObject({
      "Host name": "web-1",
      OS: "Debian GNU/Linux 12 (bookworm)",
      Kernel: "6.1.0",
      PostgreSQL: "15.18 (Debian 15.18-0+deb12u1) (cluster 15/main online, port 5432)",
      nginx: "nginx/1.22.1",
      systemd: "systemd 252 (252.39-1~deb12u2)",
      Validator: expect.stringMatching(/^django-deploy-validator \d+\.\d+\.\d+$/),
      "Validator commit": expect.stringMatching(/^([0-9a-f]{40}|unknown)/),
    });
    // systemctl show was not recorded: the service-facts probe could not run, and the field says so.
    expect(env.Django).toMatch(/^unknown \(/);
    expect(JSON.stringify(env)).not.toContain(secret);
    expect(parseEnvInfo(stringifyEnvInfo(env))).toEqual(env);
  });
});
