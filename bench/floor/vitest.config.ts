import { defineConfig } from "vitest/config";

// A bare config for the floor: the default reporter only, no set-up files, one test file.
export default defineConfig({ test: { include: ["bench/floor/empty.test.ts"] } });
