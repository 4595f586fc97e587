import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { ConfigSchema, WaiverSchema, type Config, type Waiver } from "./schema.ts";

// A config that cannot be used: the message names the file and each bad field.
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
  if (explicit === "") throw new ConfigError("DEPLOY_CONFIG is set but empty: name a config file, or unset it to use ./deploy.config.json");
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
  if (!parsed.success) {
    const vars = [...new Set(parsed.error.issues.map((i) => fromEnv.get(String(i.path[0]))).filter((v) => v !== undefined))];
    const files = `${absent ? `no ${path.basename(file)} (defaults)` : file}${host?.config ? ` with host ${host.name}'s ddv_config` : ""}`;
    const where = vars.length ? `${vars.join(", ")} (environment; config: ${files})` : files;
    throw new ConfigError(`invalid configuration in ${where}:\n${z.prettifyError(parsed.error)}`);
  }
  const config = parsed.data;
  if (config.waiversFile) config.waivers = [...config.waivers, ...loadWaivers(path.resolve(path.dirname(file), config.waiversFile))];
  return config;
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
