import type { Transport } from "../transport/types.ts";
import { redact } from "../probes/redact.ts";
import { STATE_DIR, must } from "./backup.ts";
import { pinned } from "./pinned.ts";

// The append-only audit log on the host: one JSON line per fix applied, rolled back or refused.
export const AUDIT_LOG = `${STATE_DIR}/audit.jsonl`;

export type AuditEntry = {
  time: string;
  user: string;
  host: string;
  report: string;
  ids: string[];
  fix: string;
  result: string;
  reason?: string;
  files: string[];
  backup: string;
};

// Appends one entry, secrets redacted (a reason may quote a command's output), fsynced: written before a step
// starts ("started") and when it ends, it tells what an interrupted run was doing.
export async function audit(t: Transport, e: AuditEntry, secrets: string[]) {
  const line = `${redact(JSON.stringify(e), secrets)}\n`;
  await must(t, ["install", "-d", "-m", "700", STATE_DIR]);
  await pinned(t, { op: "append", path: AUDIT_LOG, data: Buffer.from(line).toString("base64") });
}
