import { z } from "zod";

// One remembered fact: `hash` is a salted digest of its raw value (never the value); `shown` and `list` are what a
// diff may print, already redacted, and absent for a value that must never be printed (an env variable's).
export const ItemSchema = z.object({ hash: z.string(), shown: z.string().optional(), list: z.array(z.string()).optional() }).strict();
export type Item = z.infer<typeof ItemSchema>;

// One part of the fingerprint, or why it could not be read this run (then it is not compared).
export const SectionSchema = z.discriminatedUnion("ok", [
  z.object({ ok: z.literal(true), items: z.record(z.string(), ItemSchema) }).strict(),
  z.object({ ok: z.literal(false), error: z.string() }).strict(),
]);
export type Section = z.infer<typeof SectionSchema>;

export const SECTIONS = ["unit", "env", "django", "migrations", "versions", "code", "nginx", "listeners", "paths"] as const;
export type SectionName = (typeof SECTIONS)[number];

// What the deployment looked like in one run; gatherMs: what gathering it cost (for the bench).
export const FingerprintSchema = z
  .object({
    version: z.literal(1),
    runId: z.string(),
    at: z.string(),
    gatherMs: z.number(),
    sections: z.partialRecord(z.enum(SECTIONS), SectionSchema),
  })
  .strict();
export type Fingerprint = z.infer<typeof FingerprintSchema>;

// One difference from the last green run, as one line; checks: the failing checks whose facts it touches.
export const ChangeSchema = z.object({ section: z.enum(SECTIONS), key: z.string(), text: z.string(), checks: z.array(z.string()) }).strict();
export type Change = z.infer<typeof ChangeSchema>;

export const VERDICTS = ["green", "red", "interrupted"] as const;

// One run in the history: its verdict, its failing checks (report order), what changed since `since` (the last green
// run before it, null when there was none) and its fingerprint.
export const EntrySchema = z
  .object({
    id: z.string(),
    startedAt: z.string(),
    verdict: z.enum(VERDICTS),
    failing: z.array(z.string()),
    since: z.object({ id: z.string(), startedAt: z.string() }).nullable(),
    changes: z.array(ChangeSchema),
    fingerprint: FingerprintSchema.nullable(),
    // Why the fingerprint is missing (the worker could not gather it).
    note: z.string().optional(),
  })
  .strict();
export type Entry = z.infer<typeof EntrySchema>;
