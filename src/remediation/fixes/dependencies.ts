import { appDatabase } from "../../probes/app-database.ts";
import type { ProbeContext } from "../../probes/context.ts";
import { isLocalDatabase } from "../../probes/postgres-server.ts";
import { showProperties } from "../../probes/systemctl-show.ts";
import { showUnits, unitName } from "../../probes/systemd.ts";
import type { Transport } from "../../transport/types.ts";
import { defineFix, type Action } from "../fix.ts";

// The units a unit consists of (ConsistsOf=), each with its ActiveState.
async function members(t: Transport, unit: string): Promise<Array<{ id: string; active: string }>> {
  const [shown] = await showProperties(t, [unit], ["ConsistsOf"]);
  const ids = (shown?.one("ConsistsOf") ?? "").split(/\s+/).filter(Boolean);
  return (await showProperties(t, ids, ["Id", "ActiveState"])).map((m) => ({ id: m.one("Id"), active: m.one("ActiveState") })).filter((m) => m.id);
}

// Why a unit the deployment names is not one to start here (not installed on this machine), or undefined.
async function notInstalled(ctx: ProbeContext, unit: string): Promise<string | undefined> {
  const u = (await showUnits(ctx)).get(unit);
  return u?.loadState === "loaded" ? undefined : `${unit} is ${u?.loadState || "unknown"} on this machine: nothing to start (is this the deployment's host?)`;
}

// Starts and enables PostgreSQL, and every cluster unit of Debian's umbrella postgresql.service that is down.
export const startPostgresql = defineFix({
  id: "start-postgresql",
  title: "Start and enable PostgreSQL (with its cluster units)",
  rank: 10,
  restartsApp: false,
  touches: ({ config }) => ({ files: [], units: [unitName(config.dependencies.postgresql), "postgresql@*"] }),
  async plan({ transport, config, ctx }) {
    const unit = unitName(config.dependencies.postgresql);
    const installed = await notInstalled(ctx, unit);
    if (installed) return { manual: installed };
    const db = await appDatabase(ctx).catch(() => undefined);
    if (db?.ok && !isLocalDatabase(db.target))
      return { manual: `the app's database server is ${db.target.host} (${db.source}): this machine's ${unit} is not the app's; start that server there` };
    const actions: Action[] = [{ kind: "unit", unit, verb: "start" }];
    for (const m of await members(transport, unit)) if (m.active !== "active") actions.push({ kind: "unit", unit: m.id, verb: "start" });
    actions.push({ kind: "unit", unit, verb: "enable" });
    return { actions };
  },
});

// Starts and enables nginx, after `nginx -t` accepts its configuration (never start a config that does not parse).
export const startNginx = defineFix({
  id: "start-nginx",
  title: "Validate nginx's configuration, then start and enable nginx",
  rank: 90,
  restartsApp: false,
  touches: ({ config }) => ({ files: [], units: config.dependencies.nginx ? [unitName(config.dependencies.nginx)] : [] }),
  async plan({ config, ctx }) {
    if (!config.dependencies.nginx) return { manual: "no nginx unit is configured (dependencies.nginx)" };
    const unit = unitName(config.dependencies.nginx);
    const installed = await notInstalled(ctx, unit);
    if (installed) return { manual: installed };
    return {
      actions: [
        { kind: "validate", argv: ["nginx", "-t", "-q"], show: "nginx -t" },
        { kind: "unit", unit, verb: "start" },
        { kind: "unit", unit, verb: "enable" },
      ],
    };
  },
});
