import type { Fix } from "../fix.ts";

// The files fixes, listed in fixes/index.ts.
export const fileFixes: Fix[] = [];
