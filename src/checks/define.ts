import { z } from "zod";
import { PYTHON_READS, type ProbeContext, type PythonRead } from "../probes/context.ts";

export const SUITES = ["service", "http", "database", "fs-permissions", "security", "performance"] as const;
export const CheckId = z.string().regex(/^(SVC|HTTP|DB|FS|SEC|PERF)-\d{3}$/, "must look like SVC-001");

// The static, reviewable part of a check: what an auditor reads in the catalogue and in reports.
export const CheckMetaSchema = z
  .object({
    id: CheckId,
    title: z.string().min(5),
    suite: z.enum(SUITES),
    severity: z.enum(["critical", "high", "medium", "low"]),
    smoke: z.boolean().default(false),
    expects: z.string().min(5),
    recommendation: z.string().min(5),
    // ID of the remediation that automates the recommendation, when one exists.
    fixId: z.string().optional(),
    // Checks whose failure makes this one meaningless: it is skipped as "blocked by <ID>".
    dependsOn: z.array(CheckId).default([]),
    // What the check may read from the Python start beyond Django's settings (each costs start time; see PYTHON_READS).
    reads: z.array(z.enum(PYTHON_READS)).default([]),
  })
  .strict();

export type CheckMeta = z.infer<typeof CheckMetaSchema>;

// What each suite's checks read from the Python start, known before the checks load so the start can begin while
// they do (a unit test holds it to the checks' own `reads`). One start asked for more is cheaper than a second one.
const SUITE_READS: Record<(typeof SUITES)[number] | "smoke", PythonRead[]> = {
  smoke: ["gunicorn-config"],
  service: ["gunicorn-config"],
  http: ["gunicorn-config"],
  database: ["gunicorn-config", "migrations"],
  "fs-permissions": ["gunicorn-config"],
  security: ["gunicorn-config", "check-deploy"],
  performance: ["gunicorn-config"],
};

// What a run of these spec suites may read from the Python start (a -t filter only narrows it).
export function readsOfSuites(suites: string[]): Set<PythonRead> {
  return new Set(suites.flatMap((s) => SUITE_READS[s as keyof typeof SUITE_READS] ?? []));
}

// What a check saw. `observed` must say what was actually found, in words an operator understands.
// `retryInMs`: the verdict may change on its own after that long (a service that has not yet run long enough to
// call steady); waits after a fix look again then instead of polling blind.
// `skip`: the check looked and found nothing of what it judges (reported as a skip, never as a pass).
export type Verdict = { pass: boolean; observed: string; details?: unknown; retryInMs?: number; skip?: true };

export type Check = CheckMeta & {
  // Gathers facts through probes and judges them. Throwing means "could not look": reported as an error.
  run(ctx: ProbeContext): Promise<Verdict>;
  // Optional reason to skip on this host (e.g. no nginx configured); undefined means run.
  skipIf?(ctx: ProbeContext): string | undefined;
};

// Validates the static metadata at import time, so a malformed check fails fast in every test run.
export function defineCheck(meta: z.input<typeof CheckMetaSchema>, impl: Pick<Check, "run" | "skipIf">): Check {
  return { ...CheckMetaSchema.parse(meta), ...impl };
}

// The catalogue's static text says <service> where the unit's name goes: printed, it names the real unit (the
// configured service without ".service", as the text appends .service or .socket itself).
export function nameService(text: string, service: string | undefined): string {
  return service ? text.replaceAll("<service>", service.replace(/\.service$/, "")) : text;
}

// skipIf for checks that need nginx in front of Gunicorn.
export const withoutNginx = (ctx: ProbeContext) => (ctx.config.nginxUrl && ctx.config.dependencies.nginx ? undefined : "no nginx configured for this host");

export const pass = (observed: string, details?: unknown): Verdict => ({ pass: true, observed, details });
export const fail = (observed: string, details?: unknown): Verdict => ({ pass: false, observed, details });
// Nothing to judge here (found only once the check has looked): a skip, so it can never read as a pass.
export const nothingToJudge = (observed: string): Verdict => ({ pass: false, skip: true, observed });
// A failure that may clear by itself once `retryInMs` has passed.
export const failFor = (observed: string, retryInMs: number): Verdict => ({ pass: false, observed, retryInMs });
