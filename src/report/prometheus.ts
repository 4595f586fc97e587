// The run as a Prometheus textfile for node_exporter's textfile collector (text exposition format 0.0.4).

// One check's result as the run reported it: status is pass, fail, error, skip, waived or below (failOn).
export type CheckMetric = { id: string; severity: string; status: string; target?: string };
export type RunMetrics = { scope: string; checks: CheckMetric[]; runErrors: number; endedAt: number; durationSeconds: number };

// Debian's prometheus-node-exporter reads this directory (its --collector.textfile.directory).
export const DEFAULT_TEXTFILE_DIR = "/var/lib/prometheus/node-exporter";

// Red: turns the run red (a waived or below-failOn failure is reported as such, not red).
export const isRed = (status: string) => status === "fail" || status === "error";

// A label value as the text format escapes it: backslash, double quote and newline.
const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
const labels = (l: Record<string, string | undefined>) =>
  `{${Object.entries(l)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}="${esc(v as string)}"`)
    .join(",")}}`;

// The file's text. Every series carries `scope` (smoke, all, or the suites run), so the gate's file and a full run's
// file never export the same series twice. HELP texts never vary: node_exporter refuses a family whose HELP differs.
export function renderTextfile(m: RunMetrics): string {
  const out: string[] = [];
  const family = (name: string, help: string, rows: string[]) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, ...rows);
  family(
    "ddv_check_status",
    "Last validator run, per check: 1 not red, 0 red (failed or could not be checked); the status label says which.",
    m.checks.map(
      (c) => `ddv_check_status${labels({ scope: m.scope, id: c.id, severity: c.severity, status: c.status, target: c.target })} ${isRed(c.status) ? 0 : 1}`,
    ),
  );
  const one = (name: string, help: string, value: number) => family(name, help, [`${name}${labels({ scope: m.scope })} ${value}`]);
  one(
    "ddv_failures",
    "Red checks of the last validator run, plus suites that judged nothing and run errors.",
    m.checks.filter((c) => isRed(c.status)).length + m.runErrors,
  );
  one("ddv_run_timestamp_seconds", "When the last validator run ended, in seconds since the epoch.", Math.round(m.endedAt / 10) / 100);
  one("ddv_run_duration_seconds", "How long the last validator run took.", Math.round(m.durationSeconds * 1000) / 1000);
  return `${out.join("\n")}\n`;
}

// The scope label and file name of a run covering `suites` (all but smoke: "all").
export function scopeOf(suites: string[], all: string[]): string {
  const full = all.filter((s) => s !== "smoke");
  return full.length && full.every((s) => suites.includes(s)) && !suites.includes("smoke") ? "all" : [...suites].sort().join("+");
}
