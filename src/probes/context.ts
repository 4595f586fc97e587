import type { Config } from "../config/schema.ts";
import { redact } from "./redact.ts";
import type { Transport } from "../transport/types.ts";

// Everything a probe needs, plus the per-run memo that lets one probe call serve many checks.
export class ProbeContext {
  private readonly memo = new Map<string, Promise<unknown>>();
  private readonly closers: Array<() => Promise<void>> = [];
  // Secret values of the service (set before checks run), hidden from every message.
  secrets: string[] = [];
  // IDs of the checks this run reports (undefined: all); lets a probe skip work nobody will read.
  scope?: ReadonlySet<string>;
  constructor(
    readonly config: Config,
    readonly transport: Transport,
  ) {}

  // Runs `fn` once per key for the whole run; later callers share its promise (and its rejection).
  once<T>(key: string, fn: () => Promise<T>): Promise<T> {
    let p = this.memo.get(key) as Promise<T> | undefined;
    if (!p) {
      p = fn();
      this.memo.set(key, p);
    }
    return p;
  }

  // Redacts, then shortens: cutting first could leave part of a secret in the message.
  clip(text: string, max: number, from: "start" | "end" = "start"): string {
    const clean = redact(text, this.secrets);
    return from === "start" ? clean.slice(0, max) : clean.slice(-max);
  }

  // Registers cleanup (pooled connections) for close().
  onClose(fn: () => Promise<void>) {
    this.closers.push(fn);
  }

  async close() {
    this.transport.close();
    await Promise.allSettled(this.closers.splice(0).map((f) => f()));
  }
}
