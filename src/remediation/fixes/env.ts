import type { Fix } from "../fix.ts";

// The env fixes, listed in fixes/index.ts.
export const envFixes: Fix[] = [];
