import { type Fingerprint, type Item, SECTIONS, type SectionName } from "./schema.ts";

// One difference before ranking: where it is and its line.
export type Difference = { section: SectionName; key: string; text: string };

const minus = (a: string[], b: string[]) => {
  const left = [...b];
  return a.filter((x) => {
    const i = left.indexOf(x);
    if (i < 0) return true;
    left.splice(i, 1);
    return false;
  });
};

// A unit file's changed directives by name ("ExecStart= changed, Restart= added").
function directives(removed: string[], added: string[]): string {
  const name = (l: string) => (l.match(/^([A-Za-z]+)\s*=/)?.[1] ?? l.replace(/^\[|\]$/g, "")).trim();
  const r = new Set(removed.map(name));
  const a = new Set(added.map(name));
  const all = [...new Set([...r, ...a])];
  return all.map((n) => `${n}= ${r.has(n) && a.has(n) ? "changed" : a.has(n) ? "added" : "removed"}`).join(", ");
}

// Options whose value changed ("--timeout 120" for "--timeout 60") paired as "--timeout 120 -> 60"; the rest as is.
export function pairOptions(removed: string[], added: string[]): { changed: string[]; removed: string[]; added: string[] } {
  const flag = (x: string) => (/^-\S* /.test(x) ? x.split(" ")[0] : undefined);
  const changed: string[] = [];
  const rest = [...added];
  const gone = removed.filter((r) => {
    const i = rest.findIndex((a) => flag(a) !== undefined && flag(a) === flag(r));
    if (i < 0) return true;
    changed.push(`${r} -> ${(rest[i] as string).slice((flag(r) as string).length + 1)}`);
    rest.splice(i, 1);
    return false;
  });
  return { changed, removed: gone, added: rest };
}

// The parts of a "listen ...; server_name ...; proxy_pass ... (file)" summary that differ, as "part: old -> new".
function summaryDelta(before: string, after: string): string {
  const parts = (s: string) => s.split(/; | \((?=[^()]*\)$)/);
  const [b, a] = [parts(before), parts(after)];
  const moved = a.map((x, i) => (x !== b[i] ? `${b[i] ?? "(none)"} -> ${x}` : "")).filter(Boolean);
  return moved.length ? moved.join("; ") : `${before} -> ${after}`;
}

// What changed in one item, in words; undefined when nothing did. Values never shown (env) only say "value changed".
export function describeItem(key: string, before: Item | undefined, after: Item | undefined): string | undefined {
  if (before && after && before.hash === after.hash) return undefined;
  if (!before) return `${key}: new${after?.shown ? ` (${after.shown})` : after?.list ? ` (${after.list.join(" ")})` : ""}`;
  if (!after) return `${key}: removed${before.shown ? ` (was ${before.shown})` : ""}`;
  if (before.list && after.list) {
    const removed = minus(before.list, after.list);
    const added = minus(after.list, before.list);
    if (!removed.length && !added.length) return `${key}: same items, order changed`;
    if (key.startsWith("unit file ")) return `${key}: edited (${directives(removed, added)})`;
    const p = pairOptions(removed, added);
    const parts = [
      p.changed.length ? `changed ${p.changed.join(", ")}` : "",
      p.added.length ? `added ${p.added.join(", ")}` : "",
      p.removed.length ? `removed ${p.removed.join(", ")}` : "",
    ];
    return `${key}: ${parts.filter(Boolean).join("; ")}`;
  }
  if (before.shown !== undefined && after.shown !== undefined && before.shown !== after.shown) {
    // A secret's item shows only where its value comes from: a move is said, the value never.
    if (key.startsWith("env ")) return `${key}: value changed (now ${after.shown})`;
    return key.startsWith("nginx server ") ? `${key}: ${summaryDelta(before.shown, after.shown)}` : `${key}: ${before.shown} -> ${after.shown}`;
  }
  return key.startsWith("nginx server ") ? `${key}: block edited (${after.shown})` : `${key}: value changed`;
}

// Every difference between two fingerprints, section by section; a section unreadable on either side is one line.
export function diffFingerprints(before: Fingerprint, after: Fingerprint): Difference[] {
  const out: Difference[] = [];
  for (const section of SECTIONS) {
    const b = before.sections[section];
    const a = after.sections[section];
    if (!b && !a) continue;
    if (!a?.ok) {
      const was = b && !b.ok ? b.error : undefined;
      if (a && was !== a.error) out.push({ section, key: section, text: `${section}: could not be read this run (${a.error})` });
      continue;
    }
    if (!b?.ok) {
      out.push({ section, key: section, text: `${section}: readable again (${b ? `unreadable at the last green run: ${b.error}` : "not recorded then"})` });
      continue;
    }
    const keys = [...new Set([...Object.keys(b.items), ...Object.keys(a.items)])];
    for (const key of keys) {
      const text = describeItem(key, b.items[key], a.items[key]);
      if (text) out.push({ section, key, text });
    }
  }
  return out;
}
