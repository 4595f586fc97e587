import { mergeConfig } from "vitest/config";
import base from "../ablate.config.ts";

// The validator's own config (reporters, global set-up, Allure set-up; less what DDV_BENCH_DROP takes away) also
// finding the generated marginal-cost specs; less the gate's "nothing judged" reporter: the generated checks are
// timed, not judged by the catalogue, so it would call every run empty.
const merged = mergeConfig(base, { test: { include: ["bench/marginal/generated/*.spec.ts"] } });
const reporters = (merged.test?.reporters ?? []) as Array<string | [string, unknown]>;
merged.test = { ...merged.test, reporters: reporters.filter((r) => !String(Array.isArray(r) ? r[0] : r).includes("judged-reporter")) };
export default merged;
