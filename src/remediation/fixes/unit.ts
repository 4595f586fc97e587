import type { Fix } from "../fix.ts";

// The unit fixes, listed in fixes/index.ts.
export const unitFixes: Fix[] = [];
