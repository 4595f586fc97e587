import { createTwoFilesPatch } from "diff";
import type { SecretRules } from "../config/schema.ts";
import { isSecretName, redact } from "../probes/redact.ts";
import type { Transport } from "../transport/types.ts";
import type { Action } from "./fix.ts";
import { inspectForChange, pinned, RefusedError, type Read } from "./pinned.ts";

const ASSIGNMENT = /^(\s*(?:export\s+)?)([A-Za-z_][A-Za-z0-9_]*)(\s*=\s*)(.*)$/;

// Masks the values of secret variables in env-file text; a value that differs from `before` says so, so a
// rotated key still shows as a change. Every known secret value is then redacted wherever it appears.
// `all`: every value is masked, secret-named or not.
export function maskEnvText(text: string, secrets: string[], rules: SecretRules, before?: string, all = false): string {
  const old = new Map<string, string>();
  for (const l of (before ?? "").split("\n")) {
    const m = l.match(ASSIGNMENT);
    if (m) old.set(m[2] as string, m[4] as string);
  }
  // A secret's value may go on past its line (an open quote, a trailing backslash): every such line is masked too.
  let open: { quote?: string } | undefined;
  const lines = text.split("\n").map((l) => {
    if (open) {
      open = continues(l, open.quote);
      return "<masked, continued>";
    }
    const m = l.match(ASSIGNMENT);
    if (!m || !(all || isSecretName(m[2] as string, rules))) return l;
    const changed = before !== undefined && old.get(m[2] as string) !== m[4];
    const value = m[4] as string;
    const quote = /^["']/.test(value) ? value[0] : undefined;
    open = continues(quote ? value.slice(1) : value, quote);
    return `${m[1]}${m[2]}${m[3]}<masked${changed ? ", new value" : ""}>`;
  });
  return redact(lines.join("\n"), secrets);
}

// Whether a value goes on past this line: inside `quote` until an unescaped closing one, else after a trailing "\\".
function continues(rest: string, quote: string | undefined): { quote?: string } | undefined {
  if (!quote) return /\\$/.test(rest) ? {} : undefined;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === "\\" && quote === '"') i++;
    else if (rest[i] === quote) return undefined;
  }
  return { quote };
}

// A unified diff of a planned write, secret values masked on both sides.
export async function diffWrite(t: Transport, a: Extract<Action, { kind: "write" }>, secrets: string[], rules: SecretRules): Promise<string> {
  // Read as the write will see it: a link is refused here, never followed into the plan's text. The path may have
  // changed since the plan looked (a link planted meanwhile): that is said, and the write refuses it again.
  let st: Awaited<ReturnType<typeof inspectForChange>>;
  let before = "";
  try {
    st = await inspectForChange(t, a.path);
    // Shown as UTF-8 whatever the write's encoding, so secrets (learned as UTF-8) are redacted in what is shown.
    if (st) before = Buffer.from((await pinned<Read>(t, { op: "read", path: a.path })).data, "base64").toString("utf8");
  } catch (err) {
    if (!(err instanceof RefusedError)) throw err;
    return `write ${showPath(a.path)}: ${showPath(err.message)} (changed since the plan looked; this step will be refused)`;
  }
  const after = Buffer.from(a.content, a.encoding ?? "utf8").toString("utf8");
  const patch = createTwoFilesPatch(
    st ? a.path : "/dev/null",
    a.path,
    maskEnvText(before, secrets, rules, undefined, a.maskValues),
    maskEnvText(after, secrets, rules, before, a.maskValues),
    "",
    "",
    { context: 2 },
  );
  const body = patch
    .split("\n")
    .filter((l) => !/^(Index: |={10,})/.test(l))
    .join("\n")
    .trimEnd();
  const meta = st ? `` : ` (new file, mode ${a.mode.toString(8)}, ${a.owner}:${a.group})`;
  return `write ${showPath(a.path)}${meta}\n${body
    .split("\n")
    .map((l) => `      ${l}`)
    .join("\n")}`;
}

// A path as the plan prints it: control characters escaped, so a name holding a newline cannot forge a plan line.
export const showPath = (p: string) => p.replace(/[\x00-\x1f\x7f]/g, (c) => JSON.stringify(c).slice(1, -1));

// One line (or a diff) saying exactly what an action will do.
export async function describeAction(t: Transport, a: Action, secrets: string[], rules: SecretRules): Promise<string> {
  if ("path" in a && a.kind !== "write") a = { ...a, path: showPath(a.path) } as Action;
  switch (a.kind) {
    case "write":
      return diffWrite(t, a, secrets, rules);
    case "chmod":
      return `chmod ${a.mode.toString(8)} ${a.path}`;
    case "chown":
      return `chown ${a.owner}:${a.group} ${a.path}`;
    case "mkdir":
      return `mkdir -m ${a.mode.toString(8)} ${a.path} (owner ${a.owner}:${a.group})`;
    case "sql":
      return `SQL on ${a.database}: ${redact(a.show, secrets)}${a.undoShow ? `   (undo: ${redact(a.undoShow, secrets)})` : ""}`;
    case "unit":
      return `systemctl ${a.verb} ${a.unit}`;
    case "daemon-reload":
      return "systemctl daemon-reload";
    case "validate":
      return `check: ${a.show}${a.asService ? " (as the service)" : ""} (must succeed, or the step stops here)`;
    case "run":
      return `run: ${a.show}${a.asService ? " (as the service)" : ""}   (undo by hand: ${a.undo})`;
    case "restart-until-green":
      return `systemctl restart ${a.unit}, then wait up to ${a.seconds} s (restarting with backoff) until ${a.ids.join(", ")} pass`;
  }
}
