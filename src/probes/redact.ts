const SECRET_NAME = /(SECRET|PASS|TOKEN|API_KEY|PRIVATE|CREDENTIAL)/i;

// decodeURIComponent that returns its input when it is not a valid escape.
export function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s; // "50%off" is a valid password and an invalid escape
  }
}

// Every secret value we know of: variables named like secrets, and the password (raw and decoded) in any URL.
export function secretValues(env: Record<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(env)) {
    if (SECRET_NAME.test(k) && v.length >= 4) out.push(v);
    const m = v.match(/^[a-z][a-z0-9+.-]*:\/\/([^/]*)@/i); // greedy: userinfo ends at the last @, as urllib splits it
    const userinfo = m?.[1];
    const colon = userinfo?.indexOf(":") ?? -1;
    if (userinfo && colon >= 0) {
      const password = userinfo.slice(colon + 1);
      if (password.length >= 4) out.push(password, decode(password));
    }
  }
  return [...new Set(out)].sort((a, b) => b.length - a.length);
}

// Replaces known secret values in text with [REDACTED].
export function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join("[REDACTED]");
  return out;
}
