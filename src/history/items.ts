import { redact } from "../probes/redact.ts";
import type { Item, Section } from "./schema.ts";
import { saltedHash } from "./state-dir.ts";

// Builds one section's items: every raw value is hashed with the state directory's salt, every printable part is
// redacted with the run's secrets before it is kept.
export class Items {
  readonly items: Record<string, Item> = {};
  constructor(
    private readonly salt: string,
    private readonly secrets: string[],
  ) {}

  // A fact a diff may print (`shown`, or `list` for a list compared item by item).
  add(key: string, raw: string, shown?: string, list?: string[]): void {
    const clean = (s: string) => redact(s, this.secrets).slice(0, 400);
    this.items[this.unique(key)] = {
      hash: saltedHash(this.salt, key, raw),
      ...(shown !== undefined ? { shown: clean(shown) } : {}),
      ...(list ? { list: list.map(clean) } : {}),
    };
  }

  // A fact whose value is never printed, only whether it changed (env values).
  secret(key: string, raw: string, shown?: string): void {
    this.items[this.unique(key)] = { hash: saltedHash(this.salt, key, raw), ...(shown !== undefined ? { shown: redact(shown, this.secrets) } : {}) };
  }

  done(): Section {
    return { ok: true, items: this.items };
  }

  // Two facts under one name (two server blocks alike) keep both: the second is "name #2".
  private unique(key: string): string {
    let k = key;
    for (let n = 2; k in this.items; n++) k = `${key} #${n}`;
    return k;
  }
}

// A section that could not be read: the error, redacted and short (it is stored and may be printed).
export function unreadable(err: unknown, secrets: string[]): Section {
  const msg = err instanceof Error ? err.message : String(err);
  return { ok: false, error: redact(msg.replace(/\s+/g, " "), secrets).slice(0, 300) };
}
