import type { ProbeContext } from "../probes/context.ts";
import { type Listen, nginxSites, type Target } from "../probes/nginx-sites.ts";
import type { Items } from "./items.ts";

const listenText = (l: Listen) => l.unix ?? `${l.address ? `${l.address}:` : ""}${l.port ?? 80}${l.defaultServer ? " default_server" : ""}`;
const targetText = (t: Target) => ("unix" in t ? `unix:${t.unix}` : `${t.host}:${t.port}`);

// nginx's server blocks as nginx loads them: per block a digest of its directives and its listen, server_name and
// proxy_pass lines (keyed by its first name and first listen, so an edit elsewhere in the file does not move it).
export async function gatherNginx(ctx: ProbeContext, b: Items): Promise<void> {
  const sites = await nginxSites(ctx);
  for (const s of sites.servers) {
    const file = s.at.replace(/:\d+$/, "");
    const shown = `listen ${s.listens.map(listenText).join(", ")}; server_name ${s.names.join(" ") || '""'}; proxy_pass ${
      [...new Set([...s.targets.map(targetText), ...s.unresolved])].join(" ") || "none"
    } (${file})`;
    b.add(`nginx server ${s.names[0] || "_"} ${listenText(s.listens[0] as Listen)}`, s.digest, shown);
  }
}
