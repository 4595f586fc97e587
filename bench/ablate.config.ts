import { mergeConfig } from "vitest/config";
import base from "../vitest.config.ts";

// The validator's config with parts taken away, so the benchmark can say where the time goes. DDV_BENCH_DROP is a
// comma list of: reporters (all but default), allure, json, junit (one reporter), setupFiles, globalSetup.
// Never used by the validator itself.
const drop = new Set((process.env.DDV_BENCH_DROP ?? "").split(",").filter(Boolean));
const test = { ...base.test };
const named = (r: unknown) => String(Array.isArray(r) ? r[0] : r);
if (drop.has("reporters")) test.reporters = ["default"];
for (const one of ["allure", "json", "junit"])
  if (drop.has(one)) test.reporters = (test.reporters as unknown[]).filter((r) => !named(r).includes(one)) as typeof test.reporters;
if (drop.has("setupFiles")) test.setupFiles = [];
if (drop.has("globalSetup")) test.globalSetup = [];
export default mergeConfig({}, { ...base, test });
