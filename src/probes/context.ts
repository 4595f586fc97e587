import type { Config } from "../config/schema.ts";
import { redact } from "./redact.ts";
import type { Transport } from "../transport/types.ts";

// What a Python start as the service answers beyond Django's settings, each at a cost: Gunicorn's effective config
// (its loader), `manage.py check --deploy`, `showmigrations --plan`. Checks declare the ones they read.
export const PYTHON_READS = ["gunicorn-config", "check-deploy", "migrations"] as const;
export type PythonRead = (typeof PYTHON_READS)[number];

// Everything a probe needs, plus the per-run memo that lets one probe call serve many checks.
export class ProbeContext {
  private readonly memo = new Map<string, Promise<unknown>>();
  // Keys whose probe has answered: the facts that outlive close().
  private readonly answered = new Set<string>();
  private readonly closers: Array<{ fn: () => Promise<void>; forget?: string }> = [];
  // Secret values of the service (set before checks run), hidden from every message.
  secrets: string[] = [];
  // IDs of the checks this run reports (undefined: all); lets a probe skip work nobody will read.
  scope?: ReadonlySet<string>;
  // What those checks read from the Python start (undefined: everything); set with `scope` (checks/index.ts narrowTo).
  reads?: ReadonlySet<PythonRead>;
  constructor(
    readonly config: Config,
    readonly transport: Transport,
  ) {}

  // Runs `fn` once per key for the whole run; later callers share its promise (and its rejection).
  once<T>(key: string, fn: () => Promise<T>): Promise<T> {
    let p = this.memo.get(key) as Promise<T> | undefined;
    if (!p) {
      const mine = fn();
      p = mine;
      this.memo.set(key, p);
      mine.then(
        () => this.memo.get(key) === mine && this.answered.add(key),
        () => {},
      );
    }
    return p;
  }

  // Redacts, then shortens: cutting first could leave part of a secret in the message.
  clip(text: string, max: number, from: "start" | "end" = "start"): string {
    const clean = redact(text, this.secrets);
    return from === "start" ? clean.slice(0, max) : clean.slice(-max);
  }

  // Registers cleanup (pooled connections) for close(); `forget` names the memo key of what it closes.
  onClose(fn: () => Promise<void>, forget?: string) {
    this.closers.push({ fn, forget });
  }

  // Ends what one spec file opened (connections, commands still running) but keeps every fact already answered,
  // so the next spec file of the run reads them instead of asking the host again. Probes that had not answered,
  // or failed, are asked again: a command killed here must not become the next file's error.
  async close() {
    this.transport.close();
    const closers = this.closers.splice(0);
    await Promise.allSettled(closers.map((c) => c.fn()));
    for (const c of closers) if (c.forget) this.answered.delete(c.forget);
    for (const key of this.memo.keys()) if (!this.answered.has(key)) this.memo.delete(key);
  }
}
