import type { Fix } from "../fix.ts";

// The database fixes, listed in fixes/index.ts.
export const databaseFixes: Fix[] = [];
