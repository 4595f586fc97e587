import type { Config } from "../config/schema.ts";
import type { ProbeContext } from "./context.ts";
import { gunicornBase } from "./endpoint.ts";
import { fetchCached, type HttpResult } from "./http.ts";

// The health paths of a Django app that has a health endpoint, tried when the config names none.
export const KNOWN_HEALTH_PATHS = ["/health", "/health/", "/api/health"];

// What the health checks ask and what a healthy answer is; `source` says how it was chosen (shown in HTTP-001).
export type HealthPlan = { paths: string[]; health: Config["health"]; source: string };

const answered = (r: HttpResult) => ("error" in r ? undefined : r.status);

// config.healthPaths when set. Unset (zero config), asked of Gunicorn itself: the known health paths when any of them
// exists (answers other than 404: an endpoint that says "unhealthy" is judged, never stepped around; a 400 tells
// nothing, as Django refuses a Host before routing); else the admin
// login page when it exists (status 200 expected, no JSON); else `/` (200 expected; below 500 is taken as its
// answer). Gunicorn unreachable: the known paths, so the health check reports the connection failure.
export function healthPlan(ctx: ProbeContext): Promise<HealthPlan> {
  return ctx.once("http:health-plan", async () => {
    const c = ctx.config;
    if (c.healthPaths) return { paths: c.healthPaths, health: c.health, source: "config healthPaths" };
    const known: HealthPlan = { paths: KNOWN_HEALTH_PATHS, health: c.health, source: "the known health paths" };
    const base = await gunicornBase(ctx).catch(() => undefined);
    if (!base) return known;
    const statuses = (await Promise.all(KNOWN_HEALTH_PATHS.map((p) => fetchCached(ctx, base, p)))).map(answered);
    if (statuses.some((s) => s === undefined || (s !== 404 && s !== 400))) return known;
    // Django refuses the Host (400) before routing: whether a path exists cannot be told, and the judged answer says why.
    if (statuses.includes(400))
      return { ...known, source: `the known health paths (Django answers 400 for Host: ${c.hostHeader}, so none could be told apart)` };
    const none = `${KNOWN_HEALTH_PATHS.join(", ")} answer 404`;
    const page = { status: 200, json: false } as Config["health"];
    const admin = answered(await fetchCached(ctx, base, c.adminLoginPath));
    if (admin !== undefined && admin !== 404) return { paths: [c.adminLoginPath], health: page, source: `${none}: the admin login page instead` };
    const root = answered(await fetchCached(ctx, base, "/"));
    const status = root !== undefined && root < 500 ? root : 200;
    return { paths: ["/"], health: { ...page, status }, source: `${none}, and so does ${c.adminLoginPath}: / instead (answering ${status})` };
  });
}
