import { TransportError } from "../transport/types.ts";
import type { ProbeContext } from "./context.ts";
import { serviceUnit } from "./systemd.ts";

export type ServiceEnv = { source: string; env: Record<string, string> };

// Parses an EnvironmentFile the way systemd does for the common cases: KEY=value, optional quotes, # comments.
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    const m = line.match(/^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/);
    if (!m) continue;
    let v = m[2] as string;
    if ((v.startsWith("'") && v.endsWith("'")) || (v.startsWith('"') && v.endsWith('"'))) v = v.slice(1, -1);
    out[m[1] as string] = v;
  }
  return out;
}

// The environment the service really runs with: /proc/<MainPID>/environ when it runs, else the unit's env files.
export function serviceEnv(ctx: ProbeContext): Promise<ServiceEnv> {
  return ctx.once("env:service", async () => {
    const unit = await serviceUnit(ctx);
    if (unit.mainPid > 0) {
      try {
        const raw = await ctx.transport.readFile(`/proc/${unit.mainPid}/environ`);
        const env: Record<string, string> = {};
        for (const kv of raw.split("\0")) {
          const i = kv.indexOf("=");
          if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
        }
        return { source: `the running process (PID ${unit.mainPid})`, env };
      } catch (err) {
        if (!(err instanceof TransportError) || err.code !== "ENOENT") throw err;
      }
    }
    const files = unit.environmentFiles.length ? unit.environmentFiles : ctx.config.envFiles.map((path) => ({ path, optional: true }));
    const env: Record<string, string> = { ...unit.environment };
    for (const f of files) {
      const st = await ctx.transport.stat(f.path);
      if (st) Object.assign(env, parseEnvFile(await ctx.transport.readFile(f.path)));
    }
    return { source: `the env files ${files.map((f) => f.path).join(", ")} (service not running)`, env };
  });
}

export { redact, secretValues } from "./redact.ts";
