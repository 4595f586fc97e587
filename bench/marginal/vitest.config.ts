import { mergeConfig } from "vitest/config";
import base from "../ablate.config.ts";

// The validator's own config (reporters, global set-up, Allure set-up; less what DDV_BENCH_DROP takes away) also
// finding the generated marginal-cost specs.
export default mergeConfig(base, { test: { include: ["bench/marginal/generated/*.spec.ts"] } });
