import { serverArgv } from "./service-facts.ts";

// A plain Uvicorn unit (`uvicorn app.asgi:application ...` or `python -m uvicorn ...`): its argv from `uvicorn` on, or
// undefined when ExecStart does not run Uvicorn itself (Gunicorn with Uvicorn's worker class is Gunicorn's).
export function uvicornArgv(argv: string[] | undefined): string[] | undefined {
  return serverArgv(argv, "uvicorn", /^uvicorn$/);
}

// Uvicorn's options we judge, as click reads them (`--opt V`, `--opt=V`, later wins), each also read from its
// UVICORN_<OPT> variable (click's auto_envvar_prefix), the command line winning.
const OPTIONS = ["host", "port", "uds", "fd", "workers", "timeout-keep-alive", "timeout-graceful-shutdown"];

// The settings Uvicorn runs with, in the shape of Gunicorn's (one thread per worker; no worker timeout, so 0).
export function uvicornSettings(argv: string[], env: Record<string, string>) {
  const o: Record<string, string> = {};
  for (const k of OPTIONS) {
    const v = env[`UVICORN_${k.toUpperCase().replace(/-/g, "_")}`];
    if (v !== undefined) o[k] = v;
  }
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i] as string;
    const k = OPTIONS.find((x) => a === `--${x}` || a.startsWith(`--${x}=`));
    if (k) o[k] = a.includes("=") ? a.slice(a.indexOf("=") + 1) : (argv[++i] ?? "");
  }
  const host = o.host ?? "127.0.0.1";
  const bind = o.uds ? `unix:${o.uds}` : o.fd ? `fd://${o.fd}` : `${host.includes(":") ? `[${host}]` : host}:${o.port ?? "8000"}`;
  const workers = Number(o.workers ?? env.WEB_CONCURRENCY ?? "1");
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`cannot read Uvicorn's worker count from ${JSON.stringify(o.workers)}`);
  const graceful = Number(o["timeout-graceful-shutdown"] ?? "0");
  return { bind: [bind], workers, threads: 1, timeout: 0, gracefulTimeout: Number.isFinite(graceful) ? graceful : 0, explicit: Object.keys(o).sort() };
}
