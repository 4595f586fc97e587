import { type EnvSource, operatorEnvFile, parseEnvFile, shadowedKeys } from "../../probes/environment.ts";
import { endsClean, type EnvEdit, findAssignments } from "./env-edit.ts";

// What to do with the env files that override the operator's (SVC-019), judged on names and values, said in names only.
// merge: every shadowing file repeats the operator's values; `copy` lists what only it sets (from it, last file wins).
// differ: keys both set with different values, per file. changes: dropping the files would change these keys' values.
export type ShadowVerdict =
  | { mine: string; merge: Array<{ file: string; same: string[]; copy: string[] }> }
  | { mine: string; differ: Array<{ file: string; keys: string[] }> }
  | { mine: string; changes: string[] }
  | { none: string };

// The environment systemd gives the service from these sources: later ones override earlier ones.
const effective = (sources: Array<{ env: Record<string, string> }>) => Object.assign({}, ...sources.map((s) => s.env)) as Record<string, string>;

// Judges the later env files that win keys of the operator's file (see ShadowVerdict).
export function judgeShadowing(sources: EnvSource[]): ShadowVerdict {
  const mine = operatorEnvFile(sources);
  if (!mine) return { none: "the unit names no EnvironmentFile=" };
  if (!mine.exists) return { none: `the operator's env file ${mine.name} does not exist (SVC-005)` };
  if (!shadowedKeys(sources).some((s) => s.setBy.includes(mine.name) && s.winner !== mine.name)) return { none: `no later env file overrides ${mine.name}` };
  // Every later file that sets one of its keys: dropping only the last would let the one before it win instead.
  const files = sources
    .slice(sources.indexOf(mine) + 1)
    .filter((s) => s.exists && s.kind === "EnvironmentFile=" && s.name !== mine.name && Object.keys(s.env).some((k) => k in mine.env));
  const differ = files
    .map((f) => ({ file: f.name, keys: Object.keys(f.env).filter((k) => k in mine.env && f.env[k] !== mine.env[k]) }))
    .filter((d) => d.keys.length);
  if (differ.length) return { mine: mine.name, differ };
  // Each key only they set is copied once, from the last of them that sets it (the value that wins today).
  const copied: Record<string, string> = {};
  const merge = files.map((f) => ({ file: f.name, same: Object.keys(f.env).filter((k) => k in mine.env), copy: [] as string[] }));
  for (const [i, f] of files.entries())
    for (const k of Object.keys(f.env).filter((x) => !(x in mine.env) && !files.slice(i + 1).some((l) => x in l.env))) {
      copied[k] = f.env[k] as string;
      merge[i]?.copy.push(k);
    }
  // Dropping the files must leave every variable as it is (a file between them could otherwise win a copied key).
  const before = effective(sources);
  const after = effective(sources.filter((s) => !files.includes(s)).map((s) => (s === mine ? { env: { ...s.env, ...copied } } : s)));
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  const changes = keys.filter((k) => before[k] !== after[k]);
  return changes.length ? { mine: mine.name, changes } : { mine: mine.name, merge };
}

// Appends to env-file text the winning assignment lines of `keys` from `source`, byte for byte (their quoting kept),
// under a comment naming where they came from; refused unless the result parses to the old variables plus those.
export function appendAssignments(target: string, source: string, keys: string[], from: string): EnvEdit {
  if (!keys.length) return { text: target, changed: false };
  if (!endsClean(target)) return { why: "the operator's file ends inside an unfinished value or comment" };
  const lines = source.split("\n");
  const picked: string[] = [];
  for (const k of keys) {
    const span = findAssignments(source, k).at(-1);
    if (!span) return { why: `${k}'s assignment in ${from} could not be found line by line` };
    picked.push(lines.slice(span[0], span[1] + 1).join("\n"));
  }
  const sep = target === "" || target.endsWith("\n") ? "" : "\n";
  const text = `${target}${sep}# merged from ${from} by ddv remediate (SVC-019)\n${picked.join("\n")}\n`;
  const want = { ...parseEnvFile(target), ...Object.fromEntries(keys.map((k) => [k, parseEnvFile(source)[k]])) };
  const got = parseEnvFile(text);
  const same = Object.keys(want).length === Object.keys(got).length && Object.entries(want).every(([k, v]) => got[k] === v);
  return same ? { text, changed: true } : { why: `copying ${keys.join(", ")} from ${from} would change how other lines parse` };
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

// Unit-file lines that name `file` in EnvironmentFile= (with or without its "-").
const namesFile = (file: string) => new RegExp(`^[ \\t]*EnvironmentFile[ \\t]*=[ \\t]*-?${escapeRe(file)}[ \\t]*\\r?$`);

// Whether unit-file text names `file` in an EnvironmentFile= line.
export const mentionsEnvFile = (text: string, file: string) => text.split("\n").some((l) => namesFile(file).test(l));

// Unit-file text without its EnvironmentFile= lines naming `file`; every other byte kept.
export function dropEnvFileLines(text: string, file: string): string {
  return text
    .split("\n")
    .filter((l) => !namesFile(file).test(l))
    .join("\n");
}

// A drop-in that resets EnvironmentFile= and lists the unit's files again without `dropped` ("-" kept, % doubled);
// undefined when a path cannot be written on such a line (blanks, quotes, backslashes, control characters).
export function envFilesDropIn(files: Array<{ path: string; optional: boolean }>, dropped: string[]): string | undefined {
  const kept = files.filter((f) => !dropped.includes(f.path));
  if (kept.some((f) => /[\s"'\\\x00-\x1f\x7f]/.test(f.path))) return undefined;
  return [
    `# Written by \`ddv remediate\` (fix merge-env-files, SVC-019): the list is reset, then every env file but ${dropped.join(", ")}.`,
    "# EnvironmentFile= lines of the unit and of drop-ins sorting before this one are ignored: list a new env file here.",
    "[Service]",
    "EnvironmentFile=",
    ...kept.map((f) => `EnvironmentFile=${f.optional ? "-" : ""}${f.path.replace(/%/g, "%%")}`),
    "",
  ].join("\n");
}
