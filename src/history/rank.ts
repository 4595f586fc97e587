import { SUITES } from "../checks/define.ts";
import type { Difference } from "./diff.ts";
import type { Change } from "./schema.ts";

// Which checks read the facts behind a fingerprint key: exact IDs, or a suite prefix ("HTTP-*"). "*" (the code
// itself) touches every check, and ranks after any change with a narrower tie to a failing check.
const RELATED: Array<[RegExp, string[]]> = [
  [/^unit ExecStart$/, ["SVC-006", "SVC-008", "SVC-015", "SVC-003", "SVC-001", "SEC-007", "PERF-003", "DB-004", "FS-007", "SVC-*", "HTTP-*"]],
  [/^unit (User|Group)$/, ["SEC-008", "SVC-004", "SVC-006", "FS-*", "SVC-*"]],
  [/^unit (EnvironmentFiles|WorkingDirectory)$/, ["SVC-004", "SVC-005", "SVC-018", "SVC-019", "FS-003", "DB-001", "SVC-*"]],
  [/^unit (Restart|SuccessExitStatus)$/, ["SVC-009", "SVC-017", "SVC-003"]],
  [/^unit (Protect|Private|ReadWrite|ReadOnly|Inaccessible|NoNew|Restrict|Capability|Ambient|UMask)/, ["SEC-009", "FS-007", "FS-002", "SVC-*"]],
  [/^unit /, ["SVC-*", "SEC-008", "SEC-009"]],
  [/^env /, ["SVC-018", "SVC-005", "SVC-019", "DB-001", "SEC-001", "SEC-002", "SEC-003", "SEC-011", "SVC-001", "SVC-003", "SVC-011"]],
  [/^django DEBUG$/, ["SEC-001"]],
  [/^django ALLOWED_HOSTS$/, ["SEC-003", "HTTP-005", "HTTP-009", "HTTP-*"]],
  [/^django database$/, ["DB-*", "SVC-012"]],
  [/^django /, ["SEC-010", "SVC-003", "SVC-011", "HTTP-*", "SEC-*", "DB-002"]],
  [/^migration/, ["DB-002", "DB-003"]],
  [/^version (Django|Python|Gunicorn)$/, ["SEC-010", "SVC-*", "HTTP-*"]],
  [/^version (psycopg|PostgreSQL)/, ["DB-*", "SVC-012"]],
  [/^version nginx$/, ["SVC-013", "SVC-014", "HTTP-*", "SEC-005"]],
  [/^code /, ["*"]],
  [/^nginx /, ["HTTP-*", "SVC-013", "SVC-014", "SVC-020", "SEC-004", "SEC-005", "SEC-006"]],
  [/^listen /, ["SVC-015", "SEC-007", "DB-005", "SVC-001", "HTTP-*"]],
  [/^path /, ["FS-*", "SVC-004", "SVC-005", "SVC-006", "SEC-006"]],
  [/^(unit|env|django|migrations|versions|code|nginx|listeners|paths)$/, ["*"]],
];

// The patterns of checks reading the facts behind `key`.
export function relatedPatterns(key: string): string[] {
  return RELATED.find(([re]) => re.test(key))?.[1] ?? [];
}

// How closely a pattern names a check: 0 exactly, 1 by its suite, 2 as one of every check, undefined not at all.
function tie(pattern: string, id: string): number | undefined {
  if (pattern === id) return 0;
  if (pattern.endsWith("-*") && id.startsWith(pattern.slice(0, -1))) return 1;
  return pattern === "*" ? 2 : undefined;
}

// Check IDs in report order: suite by suite as the catalogue lists them, by number within a suite.
export function reportOrder(ids: string[]): string[] {
  const key = (id: string) => {
    const [prefix, n] = id.split("-");
    const suite = { SVC: "service", HTTP: "http", DB: "database", FS: "fs-permissions", SEC: "security", PERF: "performance" }[prefix ?? ""];
    return [SUITES.indexOf(suite as (typeof SUITES)[number]), Number(n)];
  };
  return [...ids].sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    return (x[0] as number) - (y[0] as number) || (x[1] as number) - (y[1] as number);
  });
}

// The changes ranked for a red run: first those tied closely (by ID or suite) to a failing check, by the first such
// check in report order, exact ties first; then those tied to every check (the code); then the rest, in section order.
// Each change lists the failing checks it touches.
export function rankChanges(diffs: Difference[], failing: string[]): Change[] {
  const order = reportOrder(failing);
  const scored = diffs.map((d, i) => {
    const patterns = relatedPatterns(d.key);
    const ties = order.map((id) => Math.min(...patterns.map((p) => tie(p, id) ?? 9)));
    const close = ties.findIndex((t) => t <= 1);
    const checks = order.filter((_, j) => (ties[j] as number) <= 1);
    const score = close >= 0 ? [0, close, ties[close] as number] : ties.includes(2) ? [1, 0, 0] : [2, 0, 0];
    return { change: { ...d, checks }, score, i };
  });
  scored.sort((a, b) => a.score[0]! - b.score[0]! || a.score[1]! - b.score[1]! || a.score[2]! - b.score[2]! || a.i - b.i);
  return scored.map((s) => s.change);
}
