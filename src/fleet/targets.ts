import type { SshTarget } from "../transport/ssh.ts";
import { parseHostList } from "./hosts.ts";
import { InventoryError, readInventory } from "./inventory.ts";

// One host a run checks: its name in reports, how to reach it (none: this machine), and config it overrides.
export type Target = { name: string; ssh?: SshTarget; config?: Record<string, unknown> };

// The hosts of this run, from DEPLOY_HOSTS or DEPLOY_INVENTORY (+ DEPLOY_LIMIT); undefined: this machine alone.
export async function resolveTargets(env: NodeJS.ProcessEnv = process.env): Promise<Target[] | undefined> {
  const { DEPLOY_HOSTS: hosts, DEPLOY_INVENTORY: inventory, DEPLOY_LIMIT: limit } = env;
  if (hosts && inventory) throw new InventoryError("set DEPLOY_HOSTS or DEPLOY_INVENTORY, not both");
  if (limit && !inventory) throw new InventoryError(`DEPLOY_LIMIT ${JSON.stringify(limit)} needs DEPLOY_INVENTORY (an Ansible inventory to pick hosts from)`);
  if (inventory) return readInventory(inventory, limit);
  if (hosts) {
    try {
      return parseHostList(hosts).map((ssh) => ({ name: ssh.host, ssh }));
    } catch (err) {
      throw new InventoryError((err as Error).message);
    }
  }
  return undefined;
}

// How many hosts a fleet run checks at once (DEPLOY_PARALLEL, default 8): a bound on our CPU and on the fleet.
export function hostBound(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.DEPLOY_PARALLEL ?? "8";
  if (!/^[1-9]\d*$/.test(text)) throw new InventoryError(`DEPLOY_PARALLEL must be a count of hosts (1 or more), received ${JSON.stringify(text)}`);
  return Number(text);
}
