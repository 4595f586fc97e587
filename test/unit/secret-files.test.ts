import { describe, expect, test } from "vitest";
import { parseCandidates, secretAssignments } from "../../src/probes/secret-files.ts";
import { Evaluator } from "../../src/runner/evaluate.ts";
import { healthyCommands } from "./healthy-replay.ts";
import { recorded, replayContext, replayTransport } from "./replay.ts";

const rec = JSON.parse(recorded("env-templates-as-shipped.json")) as { find: { stdout: string; stderr: string }; files: Record<string, string> };

// Every value assigned in the recorded templates, to prove none reaches a message.
const values = Object.values(rec.files)
  .flatMap((t) => t.split("\n").map((l) => l.match(/^[A-Z_]+=(.+)$/)?.[1] ?? ""))
  .filter((v) => v.length > 3 && !/^(False|True)$/.test(v));

async function fs6(find: { stdout: string; stderr: string } | Error, files = rec.files) {
  const t = replayTransport({ ...healthyCommands(), sh: find }, files);
  const [r] = await new Evaluator(replayContext(t)).all(["FS-006"]);
  return { r, argv: t.calls.find((c) => c[0] === "sh") ?? [] };
}

describe("FS-006: readable files that assign passwords or keys", () => {
  test("recorded as-shipped templates: each file, its mode and the variable names, never a value", async () => {
    const { r, argv } = await fs6(rec.find);
    expect(r).toMatchObject({
      status: "fail",
      observed:
        "/opt/projectmeats/.env.meatscentral (0644) assigns DB_PASSWORD, DATABASE_URL (password in URL); /opt/projectmeats/.env.production.enhanced (0644) assigns SECRET_KEY, DATABASE_URL (password in URL); /opt/projectmeats/deployment/config/projectmeats.env.template (0644) assigns SECRET_KEY, DATABASE_URL (password in URL); /opt/projectmeats/deployment/env.production.template (0644) assigns SECRET_KEY, DATABASE_URL (password in URL)",
    });
    for (const v of values) expect(r?.observed, "a template value leaked").not.toContain(v);
    // One bounded find: o+r regular files with env-style names, the venv, node_modules and .git pruned.
    expect(argv[2]).toContain('find -H "$1" -xdev \\( -path "$2" -o -name node_modules -o -name .git \\) -prune -o -type f -perm -0004');
    expect(argv[2]).toContain('-name "${10}"');
    expect(argv.slice(3)).toEqual([
      "sh",
      "/opt/projectmeats",
      "/opt/projectmeats/venv",
      "201",
      ".env*",
      "*.env",
      "*.env.*",
      "env.*",
      "*.template",
      "*.example",
      "*.sample",
    ]);
  });

  test("the healthy reference host: nothing found passes", async () => {
    expect((await fs6({ stdout: "", stderr: "find-exit 0\n" })).r).toMatchObject({
      status: "pass",
      observed: "0 env-style files readable by others under /opt/projectmeats, none assigns a password or key",
    });
  });

  test("the unit's own env file is FS-003's, not this check's", async () => {
    const own = { stdout: "120 644 /etc/projectmeats/projectmeats.env\n", stderr: "find-exit 0\n" };
    expect((await fs6(own, { "/etc/projectmeats/projectmeats.env": "SECRET_KEY=abc\n" })).r).toMatchObject({ status: "pass" });
  });

  test("a failing find is an error; an unread big file is an error when nothing else is found", async () => {
    expect((await fs6({ stdout: "", stderr: "find: '/opt/projectmeats': No such file or directory\nfind-exit 1\n" })).r).toMatchObject({ status: "error" });
    const big = await fs6({ stdout: "90000 644 /opt/projectmeats/huge.env\n", stderr: "find-exit 0\n" });
    expect(big.r).toMatchObject({ status: "error" });
    expect(big.r?.observed).toContain("not read (over 64 KiB): /opt/projectmeats/huge.env (90000 bytes)");
  });

  test("parseCandidates: size, octal mode and path, sorted; more than the cap is flagged", () => {
    expect(parseCandidates("5 600 /b\n7 644 /a x\n", "find-exit 0\n", "/")).toEqual({
      hits: [
        { size: 7, mode: 0o644, path: "/a x" },
        { size: 5, mode: 0o600, path: "/b" },
      ],
      more: false,
    });
    expect(parseCandidates("1 644 /a\n1 644 /b\n1 644 /c\n", "find-exit 141\n", "/", 2).more).toBe(true);
  });
});

describe("secretAssignments: names of secret variables given a value", () => {
  test("secret names and URL passwords count; empty values, $VAR references, comments and other names do not", () => {
    const text = [
      "# EMAIL_HOST_PASSWORD=commented-out",
      "DEBUG=False",
      "SECRET_KEY='quoted-value'",
      "export API_TOKEN=abc",
      "AWS_SECRET_ACCESS_KEY=",
      'STRIPE_SECRET=""',
      "DB_PASSWORD=${DB_PASSWORD}",
      "REDIS_PASSWORD = spaced",
      "CACHE_URL=redis://:pw@localhost:6379/0",
      "SITE_URL=https://example.com/",
      "PASSWORD_RESET_TIMEOUT=3600",
    ].join("\n");
    expect(secretAssignments(text)).toEqual(["SECRET_KEY", "API_TOKEN", "REDIS_PASSWORD", "CACHE_URL (password in URL)"]);
  });
});
