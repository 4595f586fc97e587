import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { catalogue } from "../../src/checks/index.ts";
import { renderTroubleshooting, type GuideCheck } from "../../src/report/troubleshooting.ts";
import { GUIDE, currentGuide } from "../../scripts/troubleshooting.ts";

const check = (over: Partial<GuideCheck>): GuideCheck => ({
  id: "SVC-001",
  title: "A title",
  suite: "service",
  severity: "high",
  smoke: false,
  expects: "it is so",
  recommendation: "Make it so.",
  dependsOn: [],
  ...over,
});

describe("troubleshooting guide", () => {
  test("the committed docs/troubleshooting.md is what `npm run docs` generates now", () => {
    // Stale after a catalogue or fix change: run `npm run docs` and commit the guide.
    expect(readFileSync(GUIDE, "utf8")).toBe(currentGuide());
  });

  test("has one entry per check ID, in catalogue order", () => {
    const ids = [...currentGuide().matchAll(/^## (\S+)$/gm)].map((m) => m[1]);
    expect(ids).toEqual(catalogue.map((c) => c.id));
  });

  test("says what depends on a check, what it depends on, and whether its fix exists", () => {
    const md = renderTroubleshooting(
      [check({ id: "SVC-016", fixId: "reinstall" }), check({ id: "SVC-002", dependsOn: ["SVC-016"], fixId: "enable-service" }), check({ id: "SVC-003" })],
      (id) => (id === "enable-service" ? "Enable the unit" : undefined),
    );
    const entry = (id: string) => md.slice(md.indexOf(`## ${id}`)).split("\n## ")[0] as string;
    expect(entry("SVC-016")).toContain("skipped as blocked by it (fix this one first): [SVC-002](#svc-002) (A title)");
    expect(entry("SVC-016")).toContain("`reinstall` is named by the catalogue but not written yet");
    expect(entry("SVC-002")).toContain("It depends on [SVC-016](#svc-016) (A title): when that fails");
    expect(entry("SVC-002")).toContain(
      "**Automated fix:** `enable-service`: Enable the unit. Run `npx tsx remediate --from-report reports/vitest-report.json`",
    );
    expect(entry("SVC-003")).toContain("**Automated fix:** None");
    expect(entry("SVC-003")).toContain("- **How to fix it by hand:** Make it so.\n");
    expect(entry("SVC-003")).toContain("- **What it checks:** it is so.\n");
  });
});
