import { readFileSync } from "node:fs";
import path from "node:path";
import { expect, test } from "vitest";
import { hostsOf, type InventoryList, parseListHosts, targetOf } from "../../src/fleet/inventory.ts";
import { splitArgs } from "../../src/fleet/split-args.ts";
import { resolveTargets } from "../../src/fleet/targets.ts";

// Recorded from Debian's ansible-core 2.14 on test/recorded/ansible/inventory.ini.
const REC = path.join(import.meta.dirname, "../recorded/ansible");
const list = JSON.parse(readFileSync(path.join(REC, "inventory-list.json"), "utf8")) as InventoryList;

test("hosts come in Ansible's order; host, user, port, ssh arguments, become and ddv_config mean what Ansible means", () => {
  expect(hostsOf(list)).toEqual(["web1", "web2", "db1"]);
  const vars = list._meta?.hostvars ?? {};
  expect(targetOf("web1", vars.web1)).toEqual({
    name: "web1",
    config: { gunicornUrl: "http://127.0.0.1:8000", service: "projectmeats" },
    ssh: { host: "10.0.0.11", options: ["-o", "ProxyJump=bastion", "-o", "UserKnownHostsFile=/tmp/k h"] },
  });
  expect(targetOf("web2", vars.web2).ssh).toMatchObject({ host: "10.0.0.12", user: "deploy", port: 2222, sudo: true });
  // An INI file's ddv_config arrives as text: read as JSON.
  expect(targetOf("db1", vars.db1)).toEqual({ name: "db1", config: { nginxUrl: null }, ssh: { host: "10.0.0.20" } });
  expect(targetOf("me", { ansible_connection: "local" })).toEqual({ name: "me", config: undefined });
  expect(() => targetOf("bad", { ddv_config: "{nope" })).toThrow(/^host bad: ddv_config is not JSON/);
  expect(() => targetOf("bad", { ansible_port: "ssh" })).toThrow(/ansible_port "ssh" is not a port/);
});

test("option strings split as shlex does", () => {
  expect(splitArgs(`-o ProxyCommand="nsenter -t 42 -n socat - TCP:127.0.0.1:22" -o 'A=b c' x\\ y "q\\"q"`)).toEqual([
    "-o",
    "ProxyCommand=nsenter -t 42 -n socat - TCP:127.0.0.1:22",
    "-o",
    "A=b c",
    "x y",
    'q"q',
  ]);
  expect(splitArgs("  ")).toEqual([]);
  expect(() => splitArgs("-o 'open")).toThrow(/unclosed '/);
});

test("a limit is Ansible's own host pattern", () => {
  expect(parseListHosts(readFileSync(path.join(REC, "list-hosts-web-not-web2.txt"), "utf8"))).toEqual(["web1"]);
});

test("targets: DEPLOY_HOSTS, a real inventory read by ansible-inventory with a limit, and bad input in one line", async () => {
  expect(await resolveTargets({})).toBeUndefined();
  expect(await resolveTargets({ DEPLOY_HOSTS: "web1,deploy@web2:2222" })).toEqual([
    { name: "web1", ssh: { host: "web1" } },
    { name: "web2", ssh: { host: "web2", user: "deploy", port: 2222 } },
  ]);
  await expect(resolveTargets({ DEPLOY_HOSTS: "a", DEPLOY_INVENTORY: "b" })).rejects.toThrow(/not both/);
  await expect(resolveTargets({ DEPLOY_LIMIT: "web" })).rejects.toThrow(/needs DEPLOY_INVENTORY/);
  await expect(resolveTargets({ DEPLOY_HOSTS: "bad host" })).rejects.toMatchObject({ name: "InventoryError" });
  const inv = path.join(REC, "inventory.ini");
  const all = await resolveTargets({ DEPLOY_INVENTORY: inv });
  expect(all?.map((t) => t.name)).toEqual(["web1", "web2", "db1"]);
  const web = await resolveTargets({ DEPLOY_INVENTORY: inv, DEPLOY_LIMIT: "prod:!db" });
  expect(web?.map((t) => t.name)).toEqual(["web1", "web2"]);
  await expect(resolveTargets({ DEPLOY_INVENTORY: inv, DEPLOY_LIMIT: "nosuch" })).rejects.toThrow(/matches no host/);
}, 30_000);

test("an inventory file that does not exist is said to be missing (not an empty inventory, not a missing Ansible)", async () => {
  const says = /^inventory file \/nope\.yml \(from DEPLOY_INVENTORY\) does not exist$/;
  await expect(resolveTargets({ DEPLOY_INVENTORY: "/nope.yml" })).rejects.toThrow(says);
  await expect(resolveTargets({ DEPLOY_INVENTORY: "/nope.yml", DEPLOY_LIMIT: "web" })).rejects.toMatchObject({
    name: "InventoryError",
    message: expect.stringMatching(says),
  });
  // Without Ansible on PATH the file's absence is still what is said: it is looked at first.
  const path = process.env.PATH;
  process.env.PATH = "/nonexistent";
  try {
    await expect(resolveTargets({ DEPLOY_INVENTORY: "/nope.yml" })).rejects.toThrow(says);
    await expect(resolveTargets({ DEPLOY_INVENTORY: import.meta.filename })).rejects.toThrow(/ansible-inventory is not installed/);
  } finally {
    process.env.PATH = path;
  }
});
