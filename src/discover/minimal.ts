import { isDeepStrictEqual } from "node:util";
import { type Config, ConfigSchema } from "../config/schema.ts";

// What discovery learned about one config field: its value and where it came from (shown in the table).
export type Finding = { field: string; value: unknown; source: string };

// The schema's defaults: what a zero-config run uses.
export const DEFAULTS: Config = ConfigSchema.parse({});

// The findings that differ from the defaults, as a config object (fields in the schema's order); validated by the
// schema, so discovery never writes a file the validator would refuse. Dotted fields (dependencies.nginx) nest.
export function minimalConfig(found: Finding[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const order = Object.keys(ConfigSchema.shape);
  const sorted = [...found].sort((a, b) => order.indexOf(a.field.split(".")[0] as string) - order.indexOf(b.field.split(".")[0] as string));
  for (const f of sorted) {
    if (f.value === undefined || isDeepStrictEqual(defaultOf(f.field), f.value)) continue;
    const [top, sub] = f.field.split(".") as [string, string | undefined];
    if (sub) out[top] = { ...(out[top] as object), [sub]: f.value };
    else out[top] = f.value;
  }
  ConfigSchema.parse(out);
  return out;
}

// A field's default, by dotted name.
export function defaultOf(field: string): unknown {
  return field.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], DEFAULTS);
}
