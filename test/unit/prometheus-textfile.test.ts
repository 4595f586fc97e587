import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import type { TestModule } from "vitest/node";
import { renderTextfile, scopeOf } from "../../src/report/prometheus.ts";
import TextfileReporter, { textfileDir } from "../../src/vitest-adapter/textfile-reporter.ts";

// The Prometheus textfile every run writes (src/report/prometheus.ts, src/vitest-adapter/textfile-reporter.ts).
const dir = mkdtempSync(path.join(tmpdir(), "ddv-textfile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const REPO = path.join(import.meta.dirname, "..", "..");
const promtool = spawnSync("sh", ["-c", "command -v promtool"]).status === 0;

const checks = [
  { id: "SVC-001", severity: "critical", status: "pass" },
  { id: "SVC-002", severity: "critical", status: "fail" },
  { id: "DB-003", severity: "high", status: "error" },
  { id: "SEC-004", severity: "medium", status: "below" },
  { id: "FS-005", severity: "high", status: "waived" },
  { id: "HTTP-006", severity: "high", status: "skip" },
];

describe("the textfile", () => {
  const text = renderTextfile({ scope: "smoke", checks, runErrors: 1, endedAt: 1_796_441_307_431, durationSeconds: 2.7719 });

  test("one gauge per check: 0 when red (failed, could not check), 1 otherwise; the status label says which", () => {
    expect(text).toContain('ddv_check_status{scope="smoke",id="SVC-001",severity="critical",status="pass"} 1\n');
    expect(text).toContain('ddv_check_status{scope="smoke",id="SVC-002",severity="critical",status="fail"} 0\n');
    expect(text).toContain('ddv_check_status{scope="smoke",id="DB-003",severity="high",status="error"} 0\n');
    for (const s of ["below", "waived", "skip"]) expect(text).toMatch(new RegExp(`status="${s}"\\} 1\\n`));
  });

  test("the run's failures (red checks and run errors), end time and duration; HELP and TYPE once per family", () => {
    expect(text).toContain('ddv_failures{scope="smoke"} 3\n');
    expect(text).toContain('ddv_run_timestamp_seconds{scope="smoke"} 1796441307.43\n');
    expect(text).toContain('ddv_run_duration_seconds{scope="smoke"} 2.772\n');
    for (const f of ["ddv_check_status", "ddv_failures", "ddv_run_timestamp_seconds", "ddv_run_duration_seconds"]) {
      expect(text.split(`# TYPE ${f} gauge\n`)).toHaveLength(2);
      expect(text.split(`# HELP ${f} `)).toHaveLength(2);
    }
    const series = text.split("\n").filter((l) => l && !l.startsWith("#"));
    expect(new Set(series.map((l) => l.slice(0, l.lastIndexOf(" ")))).size).toBe(series.length);
  });

  test("label values escaped as the text format says: a fleet host named with a quote, backslash and newline", () => {
    const t = renderTextfile({
      scope: "all",
      checks: [{ id: "SVC-001", severity: "critical", status: "pass", target: 'we"b\\1\n' }],
      runErrors: 0,
      endedAt: 0,
      durationSeconds: 0,
    });
    expect(t).toContain(String.raw`target="we\"b\\1\n"} 1`);
  });

  test.skipIf(!promtool)("promtool check metrics accepts it", () => {
    for (const t of [text, renderTextfile({ scope: "all", checks: [], runErrors: 0, endedAt: 0, durationSeconds: 0 })])
      expect(execFileSync("promtool", ["check", "metrics"], { input: t, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] })).toBe("");
  });

  test("the scope names the run: the gate, a full run, or the suites it ran", () => {
    const all = ["database", "fs-permissions", "http", "performance", "security", "service", "smoke"];
    expect(scopeOf(["smoke"], all)).toBe("smoke");
    expect(
      scopeOf(
        all.filter((s) => s !== "smoke"),
        all,
      ),
    ).toBe("all");
    expect(scopeOf(["security", "http"], all)).toBe("http+security");
  });

  test("where it goes: Debian's node_exporter directory unless DDV_TEXTFILE_DIR says (none: off)", () => {
    expect(textfileDir({})).toEqual({ dir: "/var/lib/prometheus/node-exporter", explicit: false });
    expect(textfileDir({ DDV_TEXTFILE_DIR: "/m" })).toEqual({ dir: "/m", explicit: true });
    expect(textfileDir({ DDV_TEXTFILE_DIR: "none" })).toEqual({ dir: undefined, explicit: true });
  });
});

describe("the reporter", () => {
  // A finished run as vitest hands it to reporters: tests with our meta, and the module's own errors.
  const modules = [
    {
      children: {
        allTests: () =>
          checks.map((c) => ({
            meta: () => ({
              checkId: c.id,
              severity: c.severity,
              status: c.status === "below" ? "fail" : c.status,
              belowFailOn: c.status === "below" || undefined,
            }),
          })),
      },
      errors: () => [],
    },
  ] as unknown as TestModule[];

  test("writes ddv_<scope>.prom atomically (no temp file left), readable by node_exporter's user", async () => {
    process.env.DDV_TEXTFILE_DIR = dir;
    try {
      const r = new TextfileReporter({ dir, id: "R1", suites: ["smoke"] });
      r.onInit({ config: { root: REPO } } as never);
      await r.onTestRunEnd(modules, [], "passed");
    } finally {
      delete process.env.DDV_TEXTFILE_DIR;
    }
    expect(readdirSync(dir)).toEqual(["ddv_smoke.prom"]);
    const text = readFileSync(path.join(dir, "ddv_smoke.prom"), "utf8");
    expect(text).toContain('ddv_check_status{scope="smoke",id="SEC-004",severity="medium",status="below"} 1');
    expect(text).toContain('ddv_failures{scope="smoke"} 2');
    expect(statSync(path.join(dir, "ddv_smoke.prom")).mode & 0o777).toBe(0o644);
  });
});
