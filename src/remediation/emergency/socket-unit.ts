import type { ProbeContext } from "../../probes/context.ts";
import { userDb } from "../../probes/files.ts";
import { argvOptions } from "../../probes/gunicorn.ts";
import { siteUpstreams } from "../../probes/nginx-sites.ts";
import { nginxWorker } from "../../probes/nginx-worker.ts";
import { showProperties } from "../../probes/systemctl-show.ts";
import { showUnits, unitName, type Unit } from "../../probes/systemd.ts";
import { directives } from "./unit-why.ts";

// The socket unit an emergency reset keeps or repairs for a socket-activated service: its name, the unit file it
// writes (when `content` is set), what it listens on, and why each change is made.
export type SocketPlan = { id: string; file: string; listen: string; content?: string; current?: string; why: string[]; dropIns: string[]; wasActive: boolean };

// Who nginx's worker is: the running worker, else Debian's www-data (nginx stopped or not installed yet).
async function workerIds(ctx: ProbeContext): Promise<{ uid: number; gids: number[]; group?: string } | undefined> {
  const db = await userDb(ctx);
  const w = await nginxWorker(ctx).catch(() => undefined);
  if (w) return { uid: w.uid, gids: [w.gid, ...w.groups], group: db.gidName.get(w.gid) };
  const u = db.users.get("www-data");
  if (!u) return undefined;
  const member = [...db.groups.entries()].filter(([, g]) => g.members.includes("www-data")).map(([, g]) => g.gid);
  return { uid: u.uid, gids: [u.gid, ...member], group: db.gidName.get(u.gid) };
}

// Whether connect(2) as `who` passes a unix socket's owner, group and mode (write permission on the socket file).
export function mayConnect(who: { uid: number; gids: number[] }, owner: { uid: number; gid: number }, mode: number): boolean {
  if (who.uid === 0) return true;
  if (who.uid === owner.uid) return (mode & 0o200) !== 0;
  if (who.gids.includes(owner.gid)) return (mode & 0o020) !== 0;
  return (mode & 0o002) !== 0;
}

// The socket of a socket-activated deployment, or undefined when the service is not one. The socket unit is
// rewritten when it is gone or not loadable, listens elsewhere than nginx proxies to, or shuts nginx's worker out;
// otherwise it is kept as it is. `user`/`group`: the service's account (the socket's owner when rewritten).
export async function planSocket(ctx: ProbeContext, service: Unit | undefined, user: string, group: string): Promise<SocketPlan | undefined> {
  const units = await showUnits(ctx);
  const svc = unitName(ctx.config.service);
  const own = svc.replace(/\.service$/, ".socket");
  const loadedSvc = service?.loadState === "loaded" ? service : undefined;
  const id =
    loadedSvc?.triggeredBy.find((u) => u.endsWith(".socket")) ??
    loadedSvc?.requires.find((u) => u.endsWith(".socket")) ??
    (units.get(own)?.triggers.includes(svc) || ["bad-setting", "error"].includes(units.get(own)?.loadState ?? "") ? own : undefined);
  if (!id) return undefined;
  const sock = units.get(id);
  const loaded = sock?.loadState === "loaded" ? sock : undefined;
  // A socket the service requires but systemd did not list with it: gone, or not loadable.
  const loadState = sock?.loadState ?? (await showProperties(ctx.transport, [id], ["LoadState"]))[0]?.one("LoadState") ?? "";
  const file = loaded?.fragmentPath.startsWith("/etc/systemd/system/") ? loaded.fragmentPath : `/etc/systemd/system/${id}`;
  const current = await ctx.transport.readFile(file).catch(() => undefined);
  const upstream = (await siteUpstreams(ctx)) ?? [];
  const targets = [...new Set(upstream.map((u) => ("unix" in u ? u.unix : `${u.host}:${u.port}`)))];
  const nginxAt = targets.length === 1 ? targets[0] : undefined;
  const stream = loaded?.listen.find((l) => l.type === "Stream")?.address;
  const bind = loadedSvc?.execStart ? argvOptions(loadedSvc.execStart.argv.slice(1)).bind?.[0] : undefined;
  const listen = nginxAt ?? stream ?? bind?.replace(/^unix:/, "");
  if (!listen) return undefined;
  const why: string[] = [];
  const base = { id, file, listen, why, dropIns: loaded?.dropIns ?? [], wasActive: loaded?.activeState === "active" };
  if (!loaded && loadState === "loaded") return base; // loaded, yet not listed with the service: kept as it is
  if (!loaded) why.push(`${id} is ${loadState || "not-found"}: its unit file is ${current === undefined ? "gone" : "not loadable"}`);
  else if (nginxAt && stream !== nginxAt) why.push(`ListenStream=${stream} is not where nginx's site proxies (${nginxAt})`);
  const worker = listen.startsWith("/") ? await workerIds(ctx) : undefined;
  const db = await userDb(ctx);
  if (loaded && worker) {
    const owner = db.users.get(loaded.socketUser || "root");
    const gid = loaded.socketGroup ? db.groups.get(loaded.socketGroup)?.gid : owner?.gid;
    const mode = loaded.socketMode ?? 0o666;
    if (owner && gid !== undefined && !mayConnect(worker, { uid: owner.uid, gid }, mode))
      why.push(
        `nginx's worker cannot connect (SocketUser=${loaded.socketUser || "root"}, SocketGroup=${loaded.socketGroup || "-"}, ` +
          `mode ${mode.toString(8).padStart(4, "0")})`,
      );
  }
  if (!why.length) return base;
  const want: Record<string, string> = { ListenStream: listen };
  if (listen.startsWith("/")) Object.assign(want, { SocketUser: user, SocketGroup: worker?.group ?? group, SocketMode: "0660" });
  return { ...base, current, content: loaded && current ? editSocket(current, want) : renderSocket(svc, want) };
}

// A socket unit from scratch: the rendered service's socket, listening where nginx proxies, for nginx's worker.
export function renderSocket(service: string, want: Record<string, string>): string {
  const lines = Object.entries(want).map(([k, v]) => `${k}=${v}`);
  return `# Rendered by ddv emergency-reset; the unit it replaced (if any) is in the run's backup folder.
[Unit]
Description=${service.replace(/\.service$/, "")} Gunicorn socket

[Socket]
${lines.join("\n")}

[Install]
WantedBy=sockets.target
`;
}

// The current socket unit with only `want`'s directives set in its [Socket] section (every other line kept).
export function editSocket(text: string, want: Record<string, string>): string {
  const out: string[] = [];
  let section = "";
  const pending = new Map(Object.entries(want));
  // What [Socket] lacked goes after its last line, before the blank lines that end it.
  const flush = () => {
    let blanks = 0;
    for (; out.length && out[out.length - 1] === ""; blanks++) out.pop();
    for (const [k, v] of pending) out.push(`${k}=${v}`);
    pending.clear();
    for (let i = 0; i < blanks; i++) out.push("");
  };
  for (const line of text.split("\n")) {
    const head = line.match(/^\s*\[(\w+)\]\s*$/);
    if (head) {
      if (section === "Socket") flush();
      section = head[1] as string;
    }
    const key = line.match(/^\s*(\w+)\s*=/)?.[1];
    if (section === "Socket" && key && key in want) {
      if (pending.has(key)) out.push(`${key}=${want[key]}`);
      pending.delete(key);
      continue;
    }
    out.push(line);
  }
  if (section === "Socket") flush();
  return out.join("\n");
}

// One line per socket directive changed, with why.
export function explainSocket(plan: SocketPlan): string[] {
  if (!plan.content) return [];
  const before = directives(plan.current ?? "");
  const after = directives(plan.content);
  const reason = (k: string) => (k === "ListenStream" ? "where nginx's site proxies" : "nginx's worker may connect (SVC-020)");
  return ["ListenStream", "SocketUser", "SocketGroup", "SocketMode"]
    .filter((k) => (before.get(k) ?? []).join() !== (after.get(k) ?? []).join())
    .map((k) => `${plan.id} ${k}=${after.get(k)?.join(" ")}: ${before.has(k) ? "changed" : "added"} (${reason(k)})`);
}
