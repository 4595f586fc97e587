import { isIP } from "node:net";
import { appDatabase } from "./app-database.ts";
import type { ProbeContext } from "./context.ts";
import { isLocalDatabase } from "./postgres-server.ts";

// Whether the app's database server is this machine (its socket directory, loopback, or an address of one of its
// interfaces), or another host (a database server elsewhere, a managed one): then this machine runs no PostgreSQL
// of the app's to judge. `where` says how that was told.
export type DatabaseHere = { here: boolean; where: string };

// This machine's own addresses, from the kernel (/proc/net/fib_trie's local /32 entries, /proc/net/if_inet6).
export function parseLocalAddresses(fibTrie: string, ifInet6: string): Set<string> {
  const out = new Set<string>();
  const lines = fibTrie.split("\n");
  lines.forEach((l, i) => {
    if (/\/32 host LOCAL/.test(l)) {
      const ip = lines[i - 1]?.match(/([0-9.]+)\s*$/)?.[1];
      if (ip) out.add(ip);
    }
  });
  for (const l of ifInet6.split("\n")) {
    const hex = l.trim().split(/\s+/)[0];
    if (hex?.length === 32)
      out.add(
        hex
          .match(/.{4}/g)
          ?.join(":")
          .replace(/(^|:)0{1,3}/g, "$1") ?? "",
      );
  }
  return out;
}

// Normalises an IPv6 address to the form parseLocalAddresses writes (every group, leading zeros dropped).
function fullV6(a: string): string {
  const [head = "", tail = ""] = a.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = a.includes("::") ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
  return groups.map((g) => g.replace(/^0+(?=.)/, "").toLowerCase()).join(":");
}

// The app's database host (Django's DATABASES, else DATABASE_URL) judged against this machine's addresses; a name is
// resolved as the host resolves it (getent ahosts). Unknown (no database read): taken as here, so nothing is skipped.
export function databaseHere(ctx: ProbeContext): Promise<DatabaseHere> {
  return ctx.once("pg:here", async () => {
    const db = await appDatabase(ctx);
    if (!db.ok || isLocalDatabase(db.target)) return { here: true, where: db.ok ? `the app connects to ${db.target.host}` : db.why };
    const host = db.target.host.replace(/^\[|\]$/g, "");
    let addresses = isIP(host) ? [host] : [];
    if (!addresses.length) {
      const r = await ctx.transport.run(["getent", "ahosts", host], { timeoutMs: 5_000 });
      addresses = [
        ...new Set(
          r.stdout
            .split("\n")
            .map((l) => l.split(/\s+/)[0] ?? "")
            .filter(Boolean),
        ),
      ];
      if (!addresses.length) return { here: true, where: `${host} (${db.source}) does not resolve here` };
    }
    const [fib, v6] = await Promise.all([
      ctx.transport.readFile("/proc/net/fib_trie").catch(() => ""),
      ctx.transport.readFile("/proc/net/if_inet6").catch(() => ""),
    ]);
    const mine = parseLocalAddresses(fib, v6);
    const here = addresses.some((a) => mine.has(isIP(a) === 6 ? fullV6(a) : a));
    const named = addresses.join(", ") === host ? host : `${host} (${addresses.join(", ")})`;
    return { here, where: `the app's database server is ${named}, from ${db.source}: ${here ? "an address of this machine" : "not this machine"}` };
  });
}
