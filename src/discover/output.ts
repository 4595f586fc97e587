import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createTwoFilesPatch } from "diff";
import { DISCOVER_EXIT, DiscoverError } from "./errors.ts";
import type { Finding } from "./minimal.ts";

const show = (v: unknown) => (v === undefined ? "(unset)" : JSON.stringify(v));

// The findings as a table: field, value, whether it is written (differs from the default) and where it came from.
export function renderTable(findings: Finding[], info: Finding[], written: Record<string, unknown>): string {
  const isWritten = (f: string) => {
    const [top, sub] = f.split(".") as [string, string | undefined];
    return sub ? (written[top] as Record<string, unknown> | undefined)?.[sub] !== undefined : Object.hasOwn(written, top);
  };
  const rows = [
    ...findings.map((f) => [f.field, show(f.value), isWritten(f.field) ? "written" : "default", f.source]),
    ...info.map((f) => [f.field, String(f.value), "info", f.source]),
  ];
  const head = ["field", "value", "config", "from"];
  const widths = head.slice(0, 3).map((h, i) => Math.min(60, Math.max(h.length, ...rows.map((r) => (r[i] as string).length))));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i < 3 ? (c.length > (widths[i] as number) ? `${c.slice(0, (widths[i] as number) - 1)}…` : c.padEnd(widths[i] as number)) : c))
      .join("  ")
      .trimEnd();
  return [line(head), ...rows.map(line)].join("\n");
}

// The config file's text: the minimal object, two-space JSON, one newline at the end.
export const configText = (config: Record<string, unknown>) => `${JSON.stringify(config, null, 2)}\n`;

// Writes the config file, refusing to replace an existing one (unless `force`) with a unified diff of what would
// change; an identical file is left alone. Written through a temporary file and a rename: never half a file.
export function writeConfig(file: string, text: string, force: boolean): "written" | "unchanged" {
  if (existsSync(file)) {
    const old = readFileSync(file, "utf8");
    if (old === text) return "unchanged";
    if (!force) {
      const patch = createTwoFilesPatch(file, `${file} (discovered)`, old, text, "", "", { context: 2 });
      const body = patch
        .split("\n")
        .filter((l) => !l.startsWith("===="))
        .join("\n")
        .trimEnd();
      throw new DiscoverError(`${file} exists and differs (use --force to replace it):\n${body}`, DISCOVER_EXIT.exists);
    }
  }
  const tmp = `${file}.discover-${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o644 });
  renameSync(tmp, file);
  return "written";
}
