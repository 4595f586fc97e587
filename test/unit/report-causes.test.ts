import { describe, expect, test } from "vitest";
import { catalogue } from "../../src/checks/index.ts";
import { allureConfig, reportPaths, stripAnalytics } from "../../src/report/allure-config.ts";
import { CAUSES, allureCategories, causeOf } from "../../src/report/causes.ts";

// The matcher semantics of Allure 3's categories (core-api matchCategory), for the parts we use.
function categoryOf(status: string, cause: string): string | undefined {
  for (const c of allureCategories()) {
    const m = c.matchers as { statuses: string[]; labels?: Record<string, string> };
    if (!m.statuses.includes(status)) continue;
    if (m.labels && !Object.entries(m.labels).every(([k, re]) => k === "cause" && new RegExp(re).test(cause))) continue;
    return c.name;
  }
  return undefined;
}

describe("failure causes", () => {
  test("every check has a cause; service-down checks are named, others follow their suite", () => {
    for (const c of catalogue) expect(CAUSES).toContain(causeOf(c));
    expect(causeOf({ id: "SVC-001", suite: "service" })).toBe("service down");
    expect(causeOf({ id: "HTTP-007", suite: "http" })).toBe("service down");
    expect(causeOf({ id: "SVC-009", suite: "service" })).toBe("configuration");
    expect(causeOf({ id: "FS-001", suite: "fs-permissions" })).toBe("permissions");
    expect(causeOf({ id: "DB-002", suite: "database" })).toBe("database");
    expect(causeOf({ id: "SEC-008", suite: "security" })).toBe("security");
    expect(causeOf({ id: "PERF-001", suite: "performance" })).toBe("performance");
  });

  test("categories: errors are 'could not check' whatever the cause; failures go by cause; passes by none", () => {
    expect(categoryOf("broken", "database")).toBe("Could not check (errors)");
    expect(categoryOf("failed", "service down")).toBe("Service down");
    expect(categoryOf("failed", "permissions")).toBe("Permissions");
    expect(categoryOf("passed", "security")).toBeUndefined();
    expect(new Set(allureCategories().map((c) => c.id)).size).toBe(CAUSES.length + 1);
  });
});

describe("allure report configuration", () => {
  test("one self-contained page, history outside the output folder", () => {
    const p = reportPaths("/r");
    expect(p).toEqual({ results: "/r/allure-results", output: "/r/allure-report", history: "/r/allure-history.jsonl", config: "/r/allurerc.json" });
    const c = allureConfig(p, "Deploy validation of web-1");
    expect(c.historyPath).toBe("/r/allure-history.jsonl");
    expect(c.plugins.awesome.options.singleFile).toBe(true);
  });

  test("the analytics tag of allure 3.18's page template is removed, nothing else", () => {
    const page = `<body><div id="app"></div>
    <script async src="https://www.googletagmanager.com/gtag/js?id=G-LNDJ3J7WT0"></script>
    <script>
        window.dataLayer = window.dataLayer || [];
        function gtag(){dataLayer.push(arguments);}
        gtag('js', new Date());
    </script>
    <script>window.allure = {}</script></body>`;
    expect(stripAnalytics(page)).toBe(`<body><div id="app"></div>
    <script>window.allure = {}</script></body>`);
  });
});
