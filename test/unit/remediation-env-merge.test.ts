import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { catalogue } from "../../src/checks/index.ts";
import { type EnvSource, parseEnvFile } from "../../src/probes/environment.ts";
import { DEFAULT_SECRET_RULES } from "../../src/probes/redact.ts";
import { describeAction } from "../../src/remediation/describe.ts";
import type { Action } from "../../src/remediation/fix.ts";
import { mergeEnvFiles } from "../../src/remediation/fixes/env-merge.ts";
import { appendAssignments, dropEnvFileLines, envFilesDropIn, judgeShadowing, mentionsEnvFile } from "../../src/remediation/fixes/env-shadow.ts";
import { fixById } from "../../src/remediation/fixes/index.ts";
import { createLocalTransport } from "../../src/transport/local.ts";
import type { Transport } from "../../src/transport/types.ts";
import { healthyCommands } from "./healthy-replay.ts";
import { recorded, replayContext, replayTransport } from "./replay.ts";

// SVC-019's fix: a later env file that only repeats the operator's values is merged away; differing values are a
// manual step naming keys and files, never a value.

const OP = "/etc/projectmeats/projectmeats.env";
const SHADOW = "/opt/projectmeats/.env.shadow";
const src = (name: string, env: Record<string, string>, optional = false): EnvSource => ({
  name,
  kind: name === "Environment=" ? "Environment=" : "EnvironmentFile=",
  optional,
  exists: true,
  env,
});
const unitEnv = src("Environment=", { DJANGO_SETTINGS_MODULE: "apps.settings.production" });

describe("judgeShadowing", () => {
  test("a copy with the same values (env-file-shadowed): merged, what only it sets copied, names only", () => {
    const v = judgeShadowing([unitEnv, src(OP, { SECRET_KEY: "s3cr3t-value", DEBUG: "False" }), src(SHADOW, { SECRET_KEY: "s3cr3t-value", EXTRA: "1" }, true)]);
    expect(v).toEqual({ mine: OP, merge: [{ file: SHADOW, same: ["SECRET_KEY"], copy: ["EXTRA"] }] });
    expect(JSON.stringify(v)).not.toContain("s3cr3t-value");
  });

  test("values that differ: the keys and the files, never the values", () => {
    const v = judgeShadowing([
      unitEnv,
      src(OP, { SECRET_KEY: "a-value-1", DEBUG: "False", X: "1" }),
      src(SHADOW, { SECRET_KEY: "b-value-2", DEBUG: "True", X: "1" }),
    ]);
    expect(v).toEqual({ mine: OP, differ: [{ file: SHADOW, keys: ["SECRET_KEY", "DEBUG"] }] });
    expect(JSON.stringify(v)).not.toMatch(/value-|True/);
  });

  test("a key only the shadowing file sets that a file between them also sets: dropping it would change that key", () => {
    const mid = src("/etc/mid.env", { EXTRA: "mid" }, true);
    expect(judgeShadowing([unitEnv, src(OP, { A: "1" }), mid, src(SHADOW, { A: "1", EXTRA: "last" }, true)])).toEqual({ mine: OP, changes: ["EXTRA"] });
  });

  test("two later copies: each key copied once, from the file whose value wins today", () => {
    const v = judgeShadowing([src(OP, { A: "1" }), src("/x/one.env", { A: "1", K: "one" }, true), src("/x/two.env", { A: "1", K: "two" }, true)]);
    expect(v).toEqual({
      mine: OP,
      merge: [
        { file: "/x/one.env", same: ["A"], copy: [] },
        { file: "/x/two.env", same: ["A"], copy: ["K"] },
      ],
    });
  });

  test("nothing shadows, or the operator's file is missing: nothing to merge", () => {
    expect(judgeShadowing([unitEnv, src(OP, { A: "1" }), src(SHADOW, { B: "2" }, true)])).toEqual({ none: `no later env file overrides ${OP}` });
    expect(judgeShadowing([unitEnv, { ...src(OP, {}), exists: false }])).toHaveProperty("none", expect.stringMatching(/does not exist/));
  });
});

describe("appendAssignments", () => {
  test("copies the winning lines byte for byte (quotes, continuation) under a comment; the file parses to old + copied", () => {
    const source = "A=1\nNOTE=\"two\nlines\"\nK='x y'\nK='z w'\n";
    const r = appendAssignments("A=1\nB=2", source, ["NOTE", "K"], SHADOW);
    if ("why" in r) throw new Error(r.why);
    expect(r.text).toBe(`A=1\nB=2\n# merged from ${SHADOW} by ddv remediate (SVC-019)\nNOTE="two\nlines"\nK='z w'\n`);
    expect(parseEnvFile(r.text)).toEqual({ A: "1", B: "2", NOTE: "two\nlines", K: "z w" });
  });

  test("refuses a target that ends inside an unfinished value; nothing to copy leaves it", () => {
    expect(appendAssignments('A="open\n', "K=1\n", ["K"], SHADOW)).toHaveProperty("why");
    expect(appendAssignments("A=1\n", "K=1\n", [], SHADOW)).toEqual({ text: "A=1\n", changed: false });
  });
});

describe("EnvironmentFile= lines", () => {
  const dropin = `[Service]\nEnvironmentFile=-${SHADOW}\nNice=5\n`;
  test("finds and drops exactly the lines naming the file, '-' or not; every other byte kept", () => {
    expect(mentionsEnvFile(dropin, SHADOW)).toBe(true);
    expect(mentionsEnvFile(dropin, `${SHADOW}2`)).toBe(false);
    expect(dropEnvFileLines(dropin, SHADOW)).toBe("[Service]\nNice=5\n");
    expect(dropEnvFileLines(`EnvironmentFile = ${OP}\nA=1`, OP)).toBe("A=1");
  });

  test("our drop-in resets the list and names every other file again, '-' kept and % doubled", () => {
    const files = [
      { path: OP, optional: false },
      { path: "/etc/p%i.env", optional: true },
      { path: SHADOW, optional: true },
    ];
    expect(envFilesDropIn(files, [SHADOW])?.split("\n").slice(2)).toEqual([
      "[Service]",
      "EnvironmentFile=",
      `EnvironmentFile=${OP}`,
      "EnvironmentFile=-/etc/p%%i.env",
      "",
    ]);
    expect(envFilesDropIn([{ path: "/etc/a b.env", optional: false }], [SHADOW])).toBeUndefined();
  });
});

describe("the plan on files (systemctl show recorded; env files and the file helper real, in a temp dir)", () => {
  const dir = mkdtempSync(join(tmpdir(), "ddv-merge-"));
  chmodSync(dir, 0o755);
  const op = join(dir, "op.env");
  const shadow = join(dir, "shadow.env");
  const unitFile = join(dir, "projectmeats.service");
  writeFileSync(unitFile, `[Service]\nEnvironmentFile=${op}\nEnvironmentFile=-${shadow}\n`);
  const SECRET = "k3y-Xq9vT2mZpL8sR4wYb7nC1dF-not-printed";
  const PLAIN = "plain-value-not-printed";
  const show = recorded("systemctl-show-healthy.txt")
    .replace(`EnvironmentFiles=${OP} (ignore_errors=no)`, `EnvironmentFiles=${op} (ignore_errors=no)\nEnvironmentFiles=${shadow} (ignore_errors=yes)`)
    .replace("FragmentPath=/etc/systemd/system/projectmeats.service", `FragmentPath=${unitFile}`);
  // Commands: systemctl replayed; the file helper (python3) and stat on this machine's temp files.
  const local = createLocalTransport();
  const replay = replayTransport(healthyCommands(show));
  const t: Transport = {
    ...local,
    name: "mixed",
    run: (argv, o) => (argv[0] === "python3" ? local.run(argv, o) : replay.run(argv, o)),
  };
  const plan = async () => {
    const ctx = replayContext(t);
    return mergeEnvFiles.plan({ ctx, config: ctx.config, transport: t, ids: ["SVC-019"], addSecret() {} });
  };

  test("equal values: the key only the copy sets goes into the operator's file; the unit file's line is reset by our drop-in", async () => {
    writeFileSync(op, `SECRET_KEY=${SECRET}\nDEBUG=False\n`);
    chmodSync(op, 0o640); // writeFileSync's mode counts only for a new file: another test may have written it first
    writeFileSync(shadow, `SECRET_KEY=${SECRET}\nDEBUG=False\nLOG_NOTE="${PLAIN}"\n`);
    const p = await plan();
    if ("manual" in p) throw new Error(p.manual);
    expect(p.actions.map((a) => `${a.kind} ${"path" in a ? a.path : ""}`.trim())).toEqual([
      `write ${op}`,
      ...(p.actions.some((a) => a.kind === "mkdir") ? ["mkdir /etc/systemd/system/projectmeats.service.d"] : []),
      "write /etc/systemd/system/projectmeats.service.d/zz-ddv-env-files.conf",
      "daemon-reload",
      "validate",
    ]);
    const w = p.actions[0] as Extract<Action, { kind: "write" }>;
    expect(w).toMatchObject({ mode: 0o640, owner: "root", maskValues: true });
    expect(parseEnvFile(w.content)).toEqual({ SECRET_KEY: SECRET, DEBUG: "False", LOG_NOTE: PLAIN });
    const dropin = p.actions.find((a) => a.kind === "write" && a.path.endsWith("zz-ddv-env-files.conf")) as Extract<Action, { kind: "write" }>;
    expect(dropin.content).toContain(`EnvironmentFile=\nEnvironmentFile=${op}\n`);
    expect(dropin.content).not.toContain(`EnvironmentFile=-${shadow}`);
    // What the plan prints: names, never a value (secret-named or not).
    const shown = [...(await Promise.all(p.actions.map((a) => describeAction(t, a, [], DEFAULT_SECRET_RULES)))), ...(p.notes ?? [])].join("\n");
    expect(shown).toContain("+LOG_NOTE=<masked, new value>");
    expect(shown).not.toContain(SECRET);
    expect(shown).not.toContain(PLAIN);
    expect(shown).not.toContain("False");
  });

  test("values that differ: a manual step naming the keys and both files, no value", async () => {
    writeFileSync(op, `SECRET_KEY=${SECRET}\nDEBUG=False\n`);
    writeFileSync(shadow, `SECRET_KEY=${SECRET}x\nDEBUG=False\nLOG_NOTE=${PLAIN}\n`);
    const p = await plan();
    expect(p).toEqual({ manual: expect.stringContaining(`SECRET_KEY differ between ${op} and ${shadow} (values not shown)`) });
    expect(JSON.stringify(p)).not.toContain(SECRET);
    expect(JSON.stringify(p)).not.toContain(PLAIN);
  });
});

test("registered as SVC-019's fix, restarting the app", () => {
  expect(fixById("merge-env-files")).toBe(mergeEnvFiles);
  expect(catalogue.find((c) => c.id === "SVC-019")?.fixId).toBe("merge-env-files");
  expect(mergeEnvFiles.restartsApp).toBe(true);
});
