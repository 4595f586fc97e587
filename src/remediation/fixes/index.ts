import type { Fix } from "../fix.ts";
import { startNginx, startPostgresql } from "./dependencies.ts";
import { enableService, restartService } from "./service.ts";

// Every automated cure, by the fixId the catalogue names. Add a fix to its domain's file and list it here.
export const fixes: readonly Fix[] = [startPostgresql, startNginx, enableService, restartService];

const byId = new Map(fixes.map((f) => [f.id, f]));

// The fix with this ID, or undefined when the catalogue names one that is not written yet.
export function fixById(id: string): Fix | undefined {
  return byId.get(id);
}
