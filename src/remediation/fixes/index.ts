import type { Fix } from "../fix.ts";
import { databaseFixes } from "./database.ts";
import { startNginx, startPostgresql } from "./dependencies.ts";
import { envFixes } from "./env.ts";
import { fileFixes } from "./files.ts";
import { enableService, restartService } from "./service.ts";
import { unitFixes } from "./unit.ts";

// Every automated cure, by the fixId the catalogue names. Add a fix to its domain's file (it shows up here).
export const fixes: readonly Fix[] = [startPostgresql, startNginx, enableService, restartService, ...databaseFixes, ...unitFixes, ...envFixes, ...fileFixes];

const byId = new Map(fixes.map((f) => [f.id, f]));

// The fix with this ID, or undefined when the catalogue names one that is not written yet.
export function fixById(id: string): Fix | undefined {
  return byId.get(id);
}
