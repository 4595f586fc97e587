import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { assertNoProcessWarnings, processWarnings } from "../e2e/hosts.ts";

// Recorded: Node's DeprecationWarning line as pg prints it, then vitest's report of an unhandled rejection.
const recorded = readFileSync(new URL("../recorded/node-warnings-pg-deprecation-unhandled-rejection.txt", import.meta.url), "utf8");

test("pg's concurrent-query deprecation and vitest's unhandled rejection are both found", () => {
  const lines = processWarnings(recorded);
  expect(lines.some((l) => /^\(node:\d+\) DeprecationWarning: Calling client\.query\(\)/.test(l))).toBe(true);
  expect(lines.some((l) => /Unhandled Rejection/.test(l))).toBe(true);
  expect(lines.some((l) => /caught 1 unhandled error/.test(l))).toBe(true);
  expect(() => assertNoProcessWarnings(recorded, "the run")).toThrow(/the run printed \d+ process warning/);
});

test("a clean validator run's lines are not warnings", () => {
  const clean = [" ✓ specs/smoke/smoke.spec.ts (24 tests) 412ms", " Test Files  1 passed (1)", "SEC-001 FAIL: DEBUG is on", "      Tests  24 passed (24)"].join(
    "\n",
  );
  expect(processWarnings(clean)).toEqual([]);
  expect(() => assertNoProcessWarnings(clean, "the run")).not.toThrow();
});
