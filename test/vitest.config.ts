import { defineConfig } from "vitest/config";

// The validator's own tests: unit tests on recorded output, then end-to-end runs against real nspawn hosts.
export default defineConfig({
  test: {
    root: new URL("..", import.meta.url).pathname,
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/e2e/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 600_000,
    // Hosts share two cores: run one e2e file at a time; scenario tests pace themselves.
    fileParallelism: false,
    maxConcurrency: 2,
    reporters: ["default"],
  },
});
