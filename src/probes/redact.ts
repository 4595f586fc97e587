import { SecretRulesSchema, type SecretRules } from "../config/schema.ts";

// The defaults of the config's `secrets` field (SECRET_KEY, *_PASSWORD, *_SECRET, *_TOKEN, *_KEY, ...; 8 characters).
export const DEFAULT_SECRET_RULES: SecretRules = SecretRulesSchema.parse({});

// decodeURIComponent that returns its input when it is not a valid escape.
export function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s; // "50%off" is a valid password and an invalid escape
  }
}

// Whether a variable's name marks its value as a secret (exact name or suffix, case-insensitive).
export function isSecretName(name: string, rules: SecretRules = DEFAULT_SECRET_RULES): boolean {
  const n = name.toUpperCase();
  return rules.names.some((x) => x.toUpperCase() === n) || rules.suffixes.some((s) => n.endsWith(s.toUpperCase()) && n.length > s.length);
}

// The password in a URL's userinfo (scheme://user:PASSWORD@host/...), as written (still percent-encoded), if any.
export function urlPassword(value: string): string | undefined {
  const m = value.match(/^[a-z][a-z0-9+.-]*:\/\/(.*)$/is);
  if (!m) return undefined;
  const rest = m[1] as string;
  // The authority ends at the first / ? #, and the userinfo at its last @ (as urllib splits it).
  const authority = rest.split(/[/?#]/, 1)[0] as string;
  let userinfo = authority.includes("@") ? authority.slice(0, authority.lastIndexOf("@")) : undefined;
  // A raw "/" in the password cuts the authority short; still hide what is, to a reader, the password.
  if (userinfo === undefined && rest.includes("@")) {
    const candidate = rest.slice(0, rest.lastIndexOf("@"));
    const colon = candidate.indexOf(":");
    if (colon >= 0 && !/[/?#]/.test(candidate.slice(0, colon))) userinfo = candidate;
  }
  const colon = userinfo?.indexOf(":") ?? -1;
  return userinfo !== undefined && colon >= 0 ? userinfo.slice(colon + 1) : undefined;
}

// Secrets found in an environment: values to mask, and the names of variables whose secret is too short to mask.
export type LearnedSecrets = { values: string[]; tooShort: string[] };

// Learns the secrets of an environment: values of variables named like secrets, and the password (raw and decoded)
// of every URL-valued variable. Never the values of other variables (PASSWORD_RESET_TIMEOUT=3600, DEBUG).
export function learnFromEnv(env: Record<string, string>, rules: SecretRules = DEFAULT_SECRET_RULES): LearnedSecrets {
  const values = new Set<string>();
  const tooShort = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    const found: string[] = [];
    if (isSecretName(name, rules) && value !== "") found.push(value);
    const pw = urlPassword(value);
    if (pw) found.push(pw, decode(pw));
    for (const v of found) {
      if ([...v].length >= rules.minLength) values.add(v);
      else tooShort.add(name);
    }
  }
  return { values: [...values].sort((a, b) => b.length - a.length), tooShort: [...tooShort].sort() };
}

// Every secret value long enough to mask, longest first (see learnFromEnv).
export function secretValues(env: Record<string, string>, rules: SecretRules = DEFAULT_SECRET_RULES): string[] {
  return learnFromEnv(env, rules).values;
}

// Names of variables holding a secret too short to mask safely (never the values): a finding for a check.
export function tooShortSecrets(env: Record<string, string>, rules: SecretRules = DEFAULT_SECRET_RULES): string[] {
  return learnFromEnv(env, rules).tooShort;
}

const hexCi = (n: number, width: number) =>
  n
    .toString(16)
    .padStart(width, "0")
    .replace(/[a-f]/g, (d) => `[${d}${d.toUpperCase()}]`);
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
const HTML_NAMED: Record<string, string[]> = { "&": ["amp", "AMP"], "<": ["lt", "LT"], ">": ["gt", "GT"], '"': ["quot", "QUOT"], "'": ["apos"] };
const JSON_SHORT: Record<string, string> = { '"': '\\"', "\\": "\\\\", "/": "\\/", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f" };

// Every way one character can be written by the encoders a report may carry: raw; percent-encoded UTF-8 (any hex
// case) or "+" for a space; an HTML entity (named, decimal, hex); a JSON escape (\uXXXX, surrogate pairs, \" \\ \/).
function charForms(ch: string): string {
  const cp = ch.codePointAt(0) as number;
  const forms: string[] = [];
  forms.push([...Buffer.from(ch, "utf8")].map((b) => `%${hexCi(b, 2)}`).join(""));
  if (ch === " ") forms.push("\\+");
  for (const name of HTML_NAMED[ch] ?? []) forms.push(`&${name};`);
  forms.push(`&#0*${cp};`, `&#[xX]0*${hexCi(cp, 1)};`);
  const units = cp > 0xffff ? [0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff)] : [cp];
  forms.push(units.map((u) => `\\\\u${hexCi(u, 4)}`).join(""));
  const short = JSON_SHORT[ch];
  if (short) forms.push(escapeRe(short));
  // Raw last: "&amp;" in an escaped text must be taken whole, not as "&" followed by the text "amp;".
  forms.push(escapeRe(ch));
  return `(?:${forms.join("|")})`;
}

const patterns = new Map<string, RegExp>();
// One pattern per secret that matches it in any of those encodings (and in mixtures, which are no less the secret).
function patternFor(secret: string): RegExp {
  let re = patterns.get(secret);
  if (!re) {
    re = new RegExp([...secret].map(charForms).join(""), "g");
    patterns.set(secret, re);
  }
  return re;
}

// Replaces known secret values in text with [REDACTED], raw or URL-, form-, JSON- or HTML-encoded.
export function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.replace(patternFor(s), "[REDACTED]");
  return out;
}
