import { randomInt } from "node:crypto";
import { parseEnvFile } from "../../probes/environment.ts";
import { PLACEHOLDERS } from "../../probes/service-facts.ts";

// A name no env file uses: a line assigning it parses as its own assignment only when the parser is at a line start.
const SENTINEL = "DDV_EDIT_SENTINEL_0F3A9C";

// Whether the parser (systemd's rules) is at the start of a line after `text`: not inside a quoted value, a
// backslash continuation or a comment that swallows the next line.
export function endsClean(text: string): boolean {
  const t = text === "" || text.endsWith("\n") ? text : `${text}\n`;
  return parseEnvFile(`${t}${SENTINEL}=1\n`)[SENTINEL] === "1";
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

// Line ranges [first, last] (0-based, inclusive) of every assignment of `key`, in file order: the last one wins.
export function findAssignments(text: string, key: string): Array<[number, number]> {
  const lines = text.split("\n");
  const head = new RegExp(`^[ \\t]*${escapeRe(key)}[ \\t]*=`);
  const spans: Array<[number, number]> = [];
  for (let i = 0; i < lines.length; i++) {
    if (!head.test(lines[i] as string) || !endsClean(lines.slice(0, i).join("\n"))) continue;
    // The assignment ends at the first line after which the parser is back at a line start.
    let j = i;
    while (j < lines.length - 1 && !endsClean(lines.slice(i, j + 1).join("\n"))) j++;
    spans.push([i, j]);
    i = j;
  }
  return spans;
}

// Characters systemd's EnvironmentFile= parser and a POSIX shell both take literally, unquoted or in single quotes
// (no quotes, $, %, backslash, #, spaces, globs, ~, !, braces, ; & | < > ( ) `).
const SAFE_VALUE = /^[A-Za-z0-9_.,:+@=/[\]-]*$/;

export type EnvEdit = { text: string; changed: boolean } | { why: string };

// Sets `key` to `value` in env-file text: rewrites only the assignment that wins (the last), keeping its
// indentation and quote style, or appends `key=value` at the end when no line sets it. Every other byte stays.
// The result is parsed again with the validator's parser: every other variable must keep its value.
export function setEnvValue(text: string, key: string, value: string): EnvEdit {
  if (!SAFE_VALUE.test(value)) return { why: `the new value of ${key} holds characters that need quoting` };
  const before = parseEnvFile(text);
  if (before[key] === value) return { text, changed: false };
  const spans = findAssignments(text, key);
  const lines = text.split("\n");
  let out: string;
  const last = spans[spans.length - 1];
  if (last) {
    const [i, j] = last;
    const first = lines[i] as string;
    const m = first.match(new RegExp(`^([ \\t]*${escapeRe(key)}[ \\t]*=[ \\t]*)(['"]?)`)) as RegExpMatchArray;
    const quote = m[2] as string;
    const cr = (lines[j] as string).endsWith("\r") ? "\r" : "";
    lines.splice(i, j - i + 1, `${m[1]}${quote}${value}${quote}${cr}`);
    out = lines.join("\n");
  } else {
    if (!endsClean(text)) return { why: `the file ends inside an unfinished value or comment; add ${key} by hand` };
    out = `${text}${text === "" || text.endsWith("\n") ? "" : "\n"}${key}=${value}\n`;
  }
  const after = parseEnvFile(out);
  const want = { ...before, [key]: value };
  const same = Object.keys(want).length === Object.keys(after).length && Object.entries(want).every(([k, v]) => after[k] === v);
  if (!same) return { why: `editing ${key} would change how other lines parse; edit it by hand` };
  return { text: out, changed: true };
}

// The alphabet of generated keys: survives systemd's parser and a shell, unquoted or single-quoted.
export const KEY_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:+@";

// Whether a SECRET_KEY value is what SEC-002 rejects: empty, under 50 characters, under 5 distinct, or a placeholder.
export function weakSecretKey(k: string | undefined): string | undefined {
  if (!k) return "missing or empty";
  const placeholder = PLACEHOLDERS.find((p) => k.toLowerCase().includes(p));
  if (placeholder) return `holds the placeholder text "${placeholder}"`;
  if (k.length < 50) return `only ${k.length} characters`;
  if (new Set(k).size < 5) return `only ${new Set(k).size} distinct characters`;
  return undefined;
}

// A fresh SECRET_KEY: `length` characters drawn uniformly (crypto) from KEY_ALPHABET, never weak by SEC-002's rules.
export function generateSecretKey(length = 64): string {
  for (;;) {
    let k = "";
    for (let i = 0; i < length; i++) k += KEY_ALPHABET[randomInt(KEY_ALPHABET.length)];
    if (!weakSecretKey(k)) return k;
  }
}

// DEBUG values Django's env_bool and SEC-001's fallback read as off.
export const isFalseLike = (v: string) => /^(false|0|no|off|)$/i.test(v.trim());

// ALLOWED_HOSTS as the app's env_list reads it: comma-separated, spaces and empty items dropped.
export const hostList = (v: string) =>
  v
    .split(",")
    .map((h) => h.trim())
    .filter(Boolean);

// Whether an ALLOWED_HOSTS entry admits `host` the way Django's validate_host does ("*", exact, ".domain").
export function hostAllowed(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  const h = host.toLowerCase();
  if (p === "*" || p === h) return true;
  return p.startsWith(".") && (h.endsWith(p) || h === p.slice(1));
}
