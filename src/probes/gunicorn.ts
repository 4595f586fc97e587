import type { ProbeContext } from "./context.ts";
import { serviceEnv } from "./environment.ts";
import { gunicornArgv, gunicornFacts } from "./service-facts.ts";
import { serviceUnit } from "./systemd.ts";
import { uvicornArgv, uvicornSettings } from "./uvicorn.ts";

// Gunicorn's effective settings and where they were read. `explicit` names the settings a source set (not defaults).
export type GunicornSettings = {
  source: string;
  fromLoader: boolean;
  bind: string[];
  workers: number;
  threads: number;
  timeout: number;
  gracefulTimeout: number;
  explicit: string[];
  // Which server runs the app: Gunicorn (any worker class, Uvicorn's included) or a plain Uvicorn.
  server?: "uvicorn";
};

// Gunicorn's built-ins (20.x and 21.x/22.x agree): 1 worker ($WEB_CONCURRENCY), 1 thread, 30 s timeouts, bind 127.0.0.1:8000 ($PORT).
const FLAGS: Record<string, string> = {
  "-b": "bind",
  "--bind": "bind",
  "-w": "workers",
  "--workers": "workers",
  "--threads": "threads",
  "-t": "timeout",
  "--timeout": "timeout",
  "--graceful-timeout": "graceful_timeout",
};

// The options we judge from one argv, as argparse reads them: `--flag V`, `--flag=V`, `-wV`; later wins, --bind appends.
export function argvOptions(argv: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const put = (name: string, v: string | undefined) => {
    if (v === undefined) return;
    out[name] = name === "bind" ? [...(out[name] ?? []), v] : [v];
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const eq = a.indexOf("=");
    if (a.startsWith("--") && eq > 0 && FLAGS[a.slice(0, eq)]) put(FLAGS[a.slice(0, eq)] as string, a.slice(eq + 1));
    else if (FLAGS[a]) put(FLAGS[a] as string, argv[++i]);
    else if (/^-[bwt]./.test(a)) put(FLAGS[a.slice(0, 2)] as string, a.slice(2));
  }
  return out;
}

function count(what: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`cannot read Gunicorn's ${what} from ${JSON.stringify(value)}`);
  return n;
}

// Fallback when Gunicorn's loader cannot run: GUNICORN_CMD_ARGS, then ExecStart (command line wins), then the built-ins.
// A config file (-c, ./gunicorn.conf.py) is not read here.
export function settingsFromArgv(argv: string[], env: Record<string, string>): Omit<GunicornSettings, "source" | "fromLoader"> {
  const fromEnv = argvOptions((env.GUNICORN_CMD_ARGS ?? "").split(/\s+/).filter(Boolean));
  const fromCmd = argvOptions(argv.slice(1));
  const o = { ...fromEnv, ...fromCmd };
  const one = (k: string, dflt: string) => o[k]?.at(-1) ?? dflt;
  return {
    bind: o.bind ?? [env.PORT ? `0.0.0.0:${env.PORT}` : "127.0.0.1:8000"],
    workers: count("worker count", one("workers", env.WEB_CONCURRENCY ?? "1"), 1),
    threads: count("thread count", one("threads", "1"), 1),
    timeout: count("timeout", one("timeout", "30"), 0),
    gracefulTimeout: count("graceful timeout", one("graceful_timeout", "30"), 0),
    explicit: Object.keys(o).sort(),
  };
}

// Gunicorn's effective settings as Gunicorn resolves them (its own config loader, run as the unit's user in the one Python
// start); when that cannot run, the ExecStart argv and GUNICORN_CMD_ARGS, and `source` says so.
export function gunicornSettings(ctx: ProbeContext): Promise<GunicornSettings> {
  return ctx.once("gunicorn:settings", async () => {
    const [f, unit, { env }] = await Promise.all([gunicornFacts(ctx), serviceUnit(ctx), serviceEnv(ctx)]);
    if (f.ran && f.gunicorn.ok) {
      const g = f.gunicorn;
      const file = g.configFile ? `, config file ${g.configFile}` : ", no config file";
      return { source: `gunicorn ${g.version}'s config loader (${f.as}${file})`, fromLoader: true, ...g };
    }
    const why = f.ran ? (f.gunicorn as { error: string }).error : f.error;
    const argv = gunicornArgv(unit.execStart?.argv);
    const uvicorn = argv ? undefined : uvicornArgv(unit.execStart?.argv);
    if (uvicorn) return { source: "Uvicorn's command line and UVICORN_* variables", fromLoader: false, server: "uvicorn", ...uvicornSettings(uvicorn, env) };
    if (!argv)
      throw new Error(
        `ExecStart does not run gunicorn (${unit.execStart?.argv.slice(0, 3).join(" ") || "no ExecStart"}) ` +
          `and its config loader could not run: ${ctx.clip(why, 200)}`,
      );
    return {
      source: `the ExecStart command line and GUNICORN_CMD_ARGS (gunicorn's config loader could not run: ${ctx.clip(why, 200)}; a config file is not read)`,
      fromLoader: false,
      ...settingsFromArgv(argv, env),
    };
  });
}

// The app server's name for messages: Gunicorn, or Uvicorn for a plain Uvicorn unit.
export const serverName = (g: Pick<GunicornSettings, "server">) => (g.server === "uvicorn" ? "Uvicorn" : "Gunicorn");

// True for a bind (or listener address) only this host can reach: loopback, or a unix socket.
export function isLocalAddress(address: string): boolean {
  const a = address.replace(/^tcp:\/\//, "");
  return /^(unix:|127\.|localhost(:|$)|\[::1\]|::1$|\[(0:){7}1\]|\[(0:){5}ffff:7f|\[::ffff:127\.)/.test(a);
}

// The TCP port of a bind ("127.0.0.1:8000", "[::1]:8000", "0.0.0.0:8000"), undefined for unix: and fd:// binds.
export function bindPort(bind: string): number | undefined {
  if (/^(unix:|fd:\/\/)/.test(bind)) return undefined;
  const m = bind.replace(/^tcp:\/\//, "").match(/:(\d+)$/);
  return m ? Number(m[1]) : 8000;
}
