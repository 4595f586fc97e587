import type { Check } from "../checks/define.ts";

// Our four severities as four of Allure's five (none shares a level): critical is Allure's top, blocker.
export const ALLURE_SEVERITY = { critical: "blocker", high: "critical", medium: "normal", low: "minor" } as const;

// The Allure labels of a check's severity: Allure's level (its charts, filters and ordering) and, as check_severity,
// the catalogue's own word, so an auditor reads "high" where Allure says "critical".
export function severityLabels(severity: Check["severity"]): Array<{ name: string; value: string }> {
  return [
    { name: "severity", value: ALLURE_SEVERITY[severity] },
    { name: "check_severity", value: severity },
  ];
}
