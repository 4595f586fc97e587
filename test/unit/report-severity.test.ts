import { expect, test } from "vitest";
import { SEVERITIES } from "../../src/config/schema.ts";
import { ALLURE_SEVERITY, severityLabels } from "../../src/report/severity.ts";

// Allure's levels, highest first.
const ALLURE_LEVELS = ["blocker", "critical", "normal", "minor", "trivial"];

test("our four severities are four distinct Allure levels, in the same order", () => {
  const levels = SEVERITIES.map((s) => ALLURE_LEVELS.indexOf(ALLURE_SEVERITY[s]));
  expect(levels.every((l, i) => l >= 0 && (i === 0 || l > (levels[i - 1] as number)))).toBe(true);
});

test("a result carries Allure's level and, beside it, the catalogue's own word", () => {
  expect(severityLabels("high")).toEqual([
    { name: "severity", value: "critical" },
    { name: "check_severity", value: "high" },
  ]);
  expect(SEVERITIES.map((s) => severityLabels(s)[1]?.value)).toEqual([...SEVERITIES]);
});
