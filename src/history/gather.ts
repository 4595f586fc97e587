import type { ProbeContext } from "../probes/context.ts";
import { gatherDjango, gatherMigrations, gatherVersions } from "./gather-django.ts";
import { gatherEnv } from "./gather-env.ts";
import { gatherCode, gatherListeners, gatherPaths } from "./gather-host.ts";
import { gatherNginx } from "./gather-nginx.ts";
import { gatherUnit } from "./gather-unit.ts";
import { Items, unreadable } from "./items.ts";
import type { Fingerprint, SectionName } from "./schema.ts";

type Gatherer = (ctx: ProbeContext, b: Items) => Promise<void>;

const GATHERERS: Record<SectionName, Gatherer> = {
  unit: gatherUnit,
  env: gatherEnv,
  django: gatherDjango,
  migrations: gatherMigrations,
  versions: gatherVersions,
  code: gatherCode,
  nginx: gatherNginx,
  listeners: gatherListeners,
  paths: gatherPaths,
};

// The deployment's fingerprint, every section at once, from the run's probe context: facts the checks already read
// are memoised there, the rest is a few file reads and short commands. A section that fails says why, alone.
export async function gatherFingerprint(ctx: ProbeContext, runId: string, salt: string): Promise<Fingerprint> {
  const started = performance.now();
  const names = (Object.keys(GATHERERS) as SectionName[]).filter((n) => n !== "nginx" || ctx.config.dependencies.nginx);
  const sections = await Promise.all(
    names.map(async (n) => {
      const b = new Items(salt, ctx.secrets);
      try {
        await GATHERERS[n](ctx, b);
        return [n, b.done()] as const;
      } catch (err) {
        return [n, unreadable(err, ctx.secrets)] as const;
      }
    }),
  );
  return { version: 1, runId, at: new Date().toISOString(), gatherMs: Math.round(performance.now() - started), sections: Object.fromEntries(sections) };
}
