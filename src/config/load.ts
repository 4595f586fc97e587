import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { ConfigSchema, WaiverSchema, type Config, type Waiver } from "./schema.ts";

// A config that cannot be used: the message names each bad field and where its value came from.
export class ConfigError extends Error {
  override name = "ConfigError";
}

// Environment variables that override the common fields (handy for one-off runs and CI).
const ENV_OVERRIDES: Record<string, (v: string) => Record<string, unknown>> = {
  DEPLOY_SERVICE: (v) => ({ service: v }),
  DEPLOY_GUNICORN_URL: (v) => ({ gunicornUrl: v }),
  DEPLOY_NGINX_URL: (v) => ({ nginxUrl: v === "none" ? null : v }),
  DEPLOY_HOST_HEADER: (v) => ({ hostHeader: v }),
  DEPLOY_PROJECT_DIR: (v) => ({ projectDir: v }),
};

// Loads deploy.config.json from cwd (or $DEPLOY_CONFIG), then a fleet host's own settings (`host`, from its
// inventory variables), then env overrides, and validates with zod; `host.name` names the host in messages.
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd(), host?: { name: string; config?: Record<string, unknown> }): Config {
  const explicit = env.DEPLOY_CONFIG;
  if (explicit !== undefined && explicit.trim() === "")
    throw new ConfigError("DEPLOY_CONFIG is set but empty: name a config file, or unset it to use ./deploy.config.json");
  const file = path.resolve(cwd, explicit ?? "deploy.config.json");
  let raw: unknown = {};
  let absent = false;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && !explicit) absent = true;
    else if (code === "EISDIR") throw new ConfigError(`config file ${file}${explicit ? " (from DEPLOY_CONFIG)" : ""} is a directory: name a JSON file`);
    else if (code === "ENOENT") throw new ConfigError(`config file ${file} (from DEPLOY_CONFIG) does not exist`);
    else if (err instanceof SyntaxError) throw new ConfigError(`config file ${file} is not valid JSON: ${err.message}`);
    else throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new ConfigError(`config file ${file} must hold a JSON object, got ${JSON.stringify(raw)?.slice(0, 40)}`);
  const merged = { ...raw, ...host?.config } as Record<string, unknown>;
  // Which field an environment variable set, so a bad value is blamed on the variable, not on a file.
  const fromEnv = new Map<string, string>();
  for (const [key, apply] of Object.entries(ENV_OVERRIDES)) {
    if (env[key] === undefined) continue;
    const fields = apply(env[key] as string);
    for (const f of Object.keys(fields)) fromEnv.set(f, key);
    Object.assign(merged, fields);
  }
  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) throw new ConfigError(describeIssues(parsed.error.issues, { env, fromEnv, file, absent, host }));
  const config = parsed.data;
  if (config.waiversFile) config.waivers = [...config.waivers, ...loadWaivers(path.resolve(path.dirname(file), config.waiversFile))];
  return config;
}

type Sources = {
  env: NodeJS.ProcessEnv;
  fromEnv: Map<string, string>;
  file: string;
  absent: boolean;
  host?: { name: string; config?: Record<string, unknown> };
};

// One message for a config zod refused, each bad value blamed on where it came from: a DEPLOY_* variable (named with
// its value), a fleet host's ddv_config, or the config file; a file is named only for the values it holds.
function describeIssues(issues: z.core.$ZodIssue[], s: Sources): string {
  const byVar = new Map<string, z.core.$ZodIssue[]>();
  const fromHost: z.core.$ZodIssue[] = [];
  const fromFile: z.core.$ZodIssue[] = [];
  const inHost = (key: PropertyKey | undefined) => key !== undefined && s.host?.config !== undefined && Object.hasOwn(s.host.config, key);
  for (const i of issues) {
    const key = i.path[0];
    const v = key === undefined ? undefined : s.fromEnv.get(String(key));
    if (v) byVar.set(v, [...(byVar.get(v) ?? []), i]);
    else if (inHost(key) || (i.code === "unrecognized_keys" && i.keys.every(inHost))) fromHost.push(i);
    else fromFile.push(i);
  }
  const lines = [...byVar].map(([name, list]) => {
    const value = JSON.stringify(s.env[name] ?? "");
    return `${name}=${value.length > 80 ? `${value.slice(0, 77)}…"` : value} is not usable: ${[...new Set(list.map((i) => i.message))].join("; ")}`;
  });
  if (fromHost.length) lines.push(`invalid configuration with host ${s.host?.name}'s ddv_config (inventory):\n${z.prettifyError(new z.ZodError(fromHost))}`);
  // Values from no file at all (absent, defaults) cannot be wrong: a default that fails is ours, and says so.
  const file = s.absent ? `the defaults (no ${path.basename(s.file)})` : s.file;
  if (fromFile.length) lines.push(`invalid configuration in ${file}:\n${z.prettifyError(new z.ZodError(fromFile))}`);
  return lines.join("\n");
}

// Reads a waivers file (a JSON array of waivers), or says in one message what is wrong with it.
function loadWaivers(file: string): Waiver[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new ConfigError(`waivers file ${file} (from waiversFile) does not exist`);
    if (err instanceof SyntaxError) throw new ConfigError(`waivers file ${file} is not valid JSON: ${err.message}`);
    throw new ConfigError(`cannot read waivers file ${file}: ${(err as Error).message}`);
  }
  const parsed = z.array(WaiverSchema).safeParse(raw);
  if (!parsed.success) throw new ConfigError(`invalid waivers in ${file}:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
