import { describe, expect, it } from "vitest";
import { argvOptions } from "../../src/probes/gunicorn.ts";
import { parseBusExecStart } from "../../src/probes/systemd.ts";
import {
  capabilityLines,
  formatExecStart,
  gunicornOptionsStart,
  loopbackBinds,
  parseDropIn,
  quoteExecArg,
  renderDropIn,
  rewriteGunicornArgv,
  unitDropIn,
  type BlockKey,
} from "../../src/remediation/fixes/unit.ts";
import { fixById } from "../../src/remediation/fixes/index.ts";
import { catalogue } from "../../src/checks/index.ts";
import { recorded } from "./replay.ts";

const G = "/opt/projectmeats/venv/bin/gunicorn";

describe("rewriteGunicornArgv", () => {
  it("replaces every spelling of --bind with the loopback bind, first among Gunicorn's options", () => {
    for (const spelling of [["--bind", "0.0.0.0:8000"], ["--bind=0.0.0.0:8000"], ["-b0.0.0.0:8000"], ["-b", "0.0.0.0:8000"]]) {
      const argv = [G, "--workers", "3", ...spelling, "--timeout", "120", "projectmeats.wsgi:application"];
      expect(rewriteGunicornArgv(argv, { binds: ["127.0.0.1:8000"] })).toEqual([
        G,
        "--bind",
        "127.0.0.1:8000",
        "--workers",
        "3",
        "--timeout",
        "120",
        "projectmeats.wsgi:application",
      ]);
    }
  });

  it("replaces -t/--timeout/--graceful-timeout in all spellings and leaves the bind alone when only timeouts are set", () => {
    const argv = [G, "-b", "127.0.0.1:8000", "-t", "5", "--timeout=7", "-t9", "--graceful-timeout", "3", "--graceful-timeout=4", "app:application"];
    const out = rewriteGunicornArgv(argv, { timeout: 30, gracefulTimeout: 30 });
    expect(out).toEqual([G, "--timeout", "30", "--graceful-timeout", "30", "-b", "127.0.0.1:8000", "app:application"]);
    // what Gunicorn's argparse would read from the result
    expect(argvOptions(out.slice(1))).toMatchObject({ bind: ["127.0.0.1:8000"], timeout: ["30"], graceful_timeout: ["30"] });
  });

  it("sets the timeouts and bind of the scenarios' ExecStart lines (no-gunicorn-timeouts, gunicorn-public-bind)", () => {
    const noTimeouts = [G, "--bind", "127.0.0.1:8000", "--workers", "3", "--worker-class", "gthread", "--threads", "2", "projectmeats.wsgi:application"];
    expect(rewriteGunicornArgv(noTimeouts, { timeout: 30, gracefulTimeout: 30 }).join(" ")).toBe(
      `${G} --timeout 30 --graceful-timeout 30 --bind 127.0.0.1:8000 --workers 3 --worker-class gthread --threads 2 projectmeats.wsgi:application`,
    );
    const both = rewriteGunicornArgv([G, "--bind", "0.0.0.0:8000", "--workers", "3", "app:application"], {
      binds: ["127.0.0.1:8000"],
      timeout: 30,
      gracefulTimeout: 30,
    });
    expect(both.join(" ")).toBe(`${G} --bind 127.0.0.1:8000 --timeout 30 --graceful-timeout 30 --workers 3 app:application`);
  });

  it("keeps other options whose names start like ours, and what follows `--`", () => {
    const argv = [G, "--backlog", "64", "--threads", "2", "--", "-b", "x"];
    expect(rewriteGunicornArgv(argv, { binds: ["127.0.0.1:8000"] })).toEqual([
      G,
      "--bind",
      "127.0.0.1:8000",
      "--backlog",
      "64",
      "--threads",
      "2",
      "--",
      "-b",
      "x",
    ]);
  });

  it("puts the options after `-m gunicorn`, not among Python's options", () => {
    const argv = ["/opt/venv/bin/python3", "-m", "gunicorn", "-b", "0.0.0.0:80", "app:application"];
    expect(gunicornOptionsStart(argv)).toBe(3);
    expect(rewriteGunicornArgv(argv, { binds: ["127.0.0.1:8000"] })).toEqual([
      "/opt/venv/bin/python3",
      "-m",
      "gunicorn",
      "--bind",
      "127.0.0.1:8000",
      "app:application",
    ]);
  });

  it("refuses an ExecStart that does not run gunicorn", () => {
    expect(() => rewriteGunicornArgv(["/usr/bin/uwsgi", "--http", ":80"], { binds: ["127.0.0.1:8000"] })).toThrow(/does not run gunicorn/);
  });
});

describe("loopbackBinds", () => {
  it("drops public binds, keeps loopback and unix sockets, adds the configured loopback port", () => {
    expect(loopbackBinds(["0.0.0.0:8000"], 8000)).toEqual(["127.0.0.1:8000"]);
    expect(loopbackBinds(["unix:/run/pm.sock", "[::]:8000"], 8000)).toEqual(["127.0.0.1:8000", "unix:/run/pm.sock"]);
    expect(loopbackBinds(["127.0.0.1:8000", "0.0.0.0:9000"], 8000)).toEqual(["127.0.0.1:8000"]);
  });
});

describe("ExecStart quoting", () => {
  // The drop-in text below was made by formatExecStart and loaded by systemd 252 on a reference host; busctl then
  // read back the argv systemd parsed from it (test/recorded/remediation-execstart-roundtrip.*).
  const service = recorded("remediation-execstart-roundtrip.service");
  const bus = parseBusExecStart(recorded("remediation-execstart-roundtrip.busctl.json").replace('"a(sasasttttuii)"', '"a(sasbttttuii)"'));
  const lines = service.split("\n").filter((l) => l.startsWith("ExecStart="));

  it("writes words systemd parses back to the same argv (blanks, quotes, backslashes, %, $, ;, control characters)", () => {
    const argv = (bus[0] as { argv: string[] }).argv;
    expect(argv).toContain("a b");
    expect(argv).toContain("pct%n");
    expect(argv).toContain("$$");
    expect(`ExecStart=${formatExecStart({ path: "/bin/echo", argv })}`).toBe(lines[0]);
  });

  it("writes the flags as prefixes and @path when argv[0] is not the path", () => {
    const raw = JSON.parse(recorded("remediation-execstart-roundtrip.busctl.json")) as { data: Array<[string, string[], string[]]> };
    const [p, argv, flags] = raw.data[1] as [string, string[], string[]];
    expect(flags).toEqual(["ignore-failure", "no-env-expand"]);
    expect(`ExecStart=${formatExecStart({ path: p, argv, flags })}`).toBe(lines[1]);
  });

  it("quotes single words", () => {
    expect(quoteExecArg("--bind")).toBe("--bind");
    expect(quoteExecArg("a b")).toBe('"a b"');
    expect(quoteExecArg("100%")).toBe("100%%");
    expect(quoteExecArg("it's")).toBe('"it\'s"');
    expect(quoteExecArg('say "hi"')).toBe('"say \\"hi\\""');
    expect(quoteExecArg("C:\\x")).toBe('"C:\\\\x"');
    expect(quoteExecArg("")).toBe('""');
    expect(quoteExecArg(";")).toBe("\\;");
    expect(quoteExecArg("a\nb")).toBe('"a\\nb"');
  });

  it("refuses a flag it cannot spell", () => {
    expect(() => formatExecStart({ path: "/bin/x", argv: ["/bin/x"], flags: ["via-shell"] })).toThrow(/via-shell/);
  });
});

describe("the drop-in's blocks", () => {
  it("keeps earlier blocks, replaces a block of the same cure, renders in a fixed order", () => {
    const first = new Map<BlockKey, string[]>([["restart", ["# ddv:restart (SVC-009): x", "Restart=on-failure", "RestartSec=5s"]]]);
    const text = renderDropIn(first);
    const parsed = parseDropIn(text);
    parsed.set("success-exit-status", ["# ddv:success-exit-status (SVC-017): y", "SuccessExitStatus="]);
    const again = renderDropIn(parsed);
    expect(again).toContain("Restart=on-failure\nRestartSec=5s\n# ddv:success-exit-status");
    expect(renderDropIn(parseDropIn(again))).toBe(again);
    expect(again.match(/\[Service\]/g)).toHaveLength(1);
  });

  it("reads CapabilityBoundingSet= lines", () => {
    expect(capabilityLines("[Service]\nUser=root\nCapabilityBoundingSet=CAP_DAC_OVERRIDE\n")).toEqual(["CapabilityBoundingSet=CAP_DAC_OVERRIDE"]);
  });
});

describe("registration", () => {
  it("is the fix of SVC-008, SVC-009, SVC-017, SEC-007 and SEC-008, ranked with the unit drop-ins, restarting the app", () => {
    expect(fixById("unit-dropin")).toBe(unitDropIn);
    expect(unitDropIn.rank).toBe(60);
    expect(unitDropIn.restartsApp).toBe(true);
    const ids = catalogue
      .filter((c) => c.fixId === "unit-dropin")
      .map((c) => c.id)
      .sort();
    expect(ids).toEqual(["SEC-007", "SEC-008", "SVC-008", "SVC-009", "SVC-017"]);
  });
});
