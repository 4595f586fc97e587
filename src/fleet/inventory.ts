import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { splitArgs } from "./split-args.ts";
import type { Target } from "./targets.ts";

const run = promisify(execFile);

type HostVars = Record<string, unknown>;
export type InventoryList = { _meta?: { hostvars?: Record<string, HostVars> } } & Record<string, { hosts?: string[]; children?: string[] } | unknown>;

// A bad inventory or limit: one message, no stack.
export class InventoryError extends Error {
  override name = "InventoryError";
}

const truthy = (v: unknown) => v === true || (typeof v === "string" && /^(true|yes|on|1)$/i.test(v)) || v === 1;
const text = (v: unknown) => (v === undefined || v === null ? undefined : String(v));

// Every host of `ansible-inventory --list`, in the order Ansible lists them (groups walked from "all").
export function hostsOf(list: InventoryList): string[] {
  const seen = new Set<string>();
  const walk = (group: string, path: string[]) => {
    if (path.includes(group)) return;
    const g = list[group] as { hosts?: string[]; children?: string[] } | undefined;
    for (const h of g?.hosts ?? []) seen.add(h);
    for (const c of g?.children ?? []) walk(c, [...path, group]);
  };
  walk("all", []);
  for (const h of Object.keys(list._meta?.hostvars ?? {})) seen.add(h);
  return [...seen];
}

// The hosts of `ansible <pattern> --list-hosts` ("  hosts (2):" then one per line).
export function parseListHosts(out: string): string[] {
  return out
    .split("\n")
    .slice(1)
    .map((l) => l.trim())
    .filter(Boolean);
}

// One inventory host as a target: ansible_host, ansible_user, ansible_port, the ssh arguments and become mean what
// they mean to Ansible; `ddv_config` (an object, or JSON text from an INI file) overrides the validator's config.
export function targetOf(name: string, vars: HostVars = {}): Target {
  let config: Record<string, unknown> | undefined;
  const raw = vars.ddv_config;
  if (raw !== undefined) {
    try {
      config = typeof raw === "string" ? JSON.parse(raw) : (raw as Record<string, unknown>);
    } catch (err) {
      throw new InventoryError(`host ${name}: ddv_config is not JSON: ${(err as Error).message} (received ${JSON.stringify(raw).slice(0, 80)})`);
    }
    if (typeof config !== "object" || config === null || Array.isArray(config))
      throw new InventoryError(`host ${name}: ddv_config must be an object, received ${JSON.stringify(raw).slice(0, 80)}`);
  }
  if (text(vars.ansible_connection) === "local") return { name, config };
  let options: string[];
  try {
    options = [...splitArgs(text(vars.ansible_ssh_common_args) ?? ""), ...splitArgs(text(vars.ansible_ssh_extra_args) ?? "")];
  } catch (err) {
    throw new InventoryError(`host ${name}: ansible_ssh_common_args/extra_args: ${(err as Error).message}`);
  }
  const key = text(vars.ansible_ssh_private_key_file ?? vars.ansible_private_key_file);
  if (key) options.push("-i", key);
  const port = vars.ansible_port === undefined ? undefined : Number(vars.ansible_port);
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536))
    throw new InventoryError(`host ${name}: ansible_port ${JSON.stringify(vars.ansible_port)} is not a port`);
  const user = text(vars.ansible_user ?? vars.ansible_ssh_user);
  return {
    name,
    config,
    ssh: {
      host: text(vars.ansible_host ?? vars.ansible_ssh_host) ?? name,
      ...(user ? { user } : {}),
      ...(port ? { port } : {}),
      ...(options.length ? { options } : {}),
      ...(truthy(vars.ansible_become) && user !== "root" ? { sudo: true } : {}),
    },
  };
}

async function ansible(argv: string[], what: string): Promise<string> {
  try {
    return (await run(argv[0] as string, argv.slice(1), { timeout: 60_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ANSIBLE_NOCOLOR: "1" } }))
      .stdout;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === "ENOENT")
      throw new InventoryError(`${argv[0]} is not installed: install Debian's ansible-core (apt-get install ansible-core) to read ${what}`);
    throw new InventoryError(
      `${argv[0]} could not read ${what}: ${(e.stderr ?? e.message)
        .trim()
        .split("\n")
        .filter((l) => !/^\s*$/.test(l))
        .slice(-2)
        .join(" ")}`,
    );
  }
}

// Reads an Ansible inventory (INI, YAML, a script: whatever Ansible reads) with Ansible's own tools; `limit` is an
// Ansible host pattern (a group, "web:&prod", "!db1"), resolved by `ansible --list-hosts` as a playbook's --limit.
export async function readInventory(file: string, limit?: string): Promise<Target[]> {
  // Ansible reads a path that is not there as an empty inventory (a warning, no host): say what is wrong instead.
  // A value with a comma is Ansible's inline host list ("web1,web2,"), not a path.
  if (!file.includes(",") && !existsSync(file)) throw new InventoryError(`inventory file ${file} (from DEPLOY_INVENTORY) does not exist`);
  const [listText, limited] = await Promise.all([
    ansible(["ansible-inventory", "-i", file, "--list"], `inventory ${file}`),
    limit ? ansible(["ansible", "-i", file, limit, "--list-hosts"], `limit ${JSON.stringify(limit)} in ${file}`).then(parseListHosts) : undefined,
  ]);
  let list: InventoryList;
  try {
    list = JSON.parse(listText) as InventoryList;
  } catch (err) {
    throw new InventoryError(`ansible-inventory --list gave no JSON for ${file}: ${(err as Error).message}`);
  }
  let hosts = hostsOf(list);
  if (limited) hosts = hosts.filter((h) => limited.includes(h));
  if (!hosts.length) throw new InventoryError(limit ? `DEPLOY_LIMIT ${JSON.stringify(limit)} matches no host of ${file}` : `inventory ${file} holds no host`);
  return hosts.map((h) => targetOf(h, list._meta?.hostvars?.[h]));
}
