import type { Check } from "../checks/define.ts";

// Why a check fails, as an auditor groups findings: one Allure category each (plus "could not check" for errors).
export const CAUSES = ["service down", "configuration", "permissions", "database", "security", "performance"] as const;
export type Cause = (typeof CAUSES)[number];

// Checks whose failure means something is not running or not answering, whatever their suite.
const SERVICE_DOWN = new Set(["SVC-001", "SVC-003", "SVC-012", "SVC-013", "SVC-015", "SVC-016", "HTTP-001", "HTTP-002", "HTTP-007"]);
// Checks that judge exposure although they sit in another suite.
const SECURITY = new Set(["HTTP-004", "HTTP-005", "FS-003", "FS-006", "SEC-007", "SEC-008"]);

const BY_SUITE: Record<Check["suite"], Cause> = {
  service: "configuration",
  http: "configuration",
  database: "database",
  "fs-permissions": "permissions",
  security: "security",
  performance: "performance",
};

// The cause a check's failure is filed under: named exceptions first, else its suite's (so a new check has one).
export function causeOf(check: Pick<Check, "id" | "suite">): Cause {
  if (SERVICE_DOWN.has(check.id)) return "service down";
  if (SECURITY.has(check.id)) return "security";
  return BY_SUITE[check.suite];
}

// The Allure label that carries the cause on every result (categories match on it).
export const CAUSE_LABEL = "cause";

// Allure 3 categories (allurerc `categories`): errors first (we could not look), then failures by cause.
export function allureCategories() {
  return [
    { id: "could-not-check", name: "Could not check (errors)", matchers: { statuses: ["broken"] }, groupByMessage: false, expand: true },
    ...CAUSES.map((c) => ({
      id: c.replace(/ /g, "-"),
      name: c[0]?.toUpperCase() + c.slice(1),
      matchers: { statuses: ["failed"], labels: { [CAUSE_LABEL]: `^${c}$` } },
      groupByMessage: false,
      expand: true,
    })),
  ];
}
