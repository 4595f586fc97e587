import { userInfo } from "node:os";
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

// What a caller says: the time and the user are this moment's and this process's; host and ids may be left out.
export type AuditInput = Omit<AuditEntry, "time" | "user" | "host" | "ids"> & { host?: string; ids?: string[] };

// Appends one entry, secrets redacted (a reason may quote a command's output), fsynced: written before a step
// starts ("started") and when it ends, it tells what an interrupted run was doing.
export async function audit(t: Transport, i: AuditInput, secrets: string[]) {
  const e: AuditEntry = {
    time: new Date().toISOString(),
    user: userInfo().username,
    host: i.host ?? "",
    report: i.report,
    ids: i.ids ?? [],
    fix: i.fix,
    result: i.result,
    reason: i.reason,
    files: i.files,
    backup: i.backup,
  };
  const line = `${redact(JSON.stringify(e), secrets)}\n`;
  await must(t, ["install", "-d", "-m", "700", STATE_DIR]);
  await pinned(t, { op: "append", path: AUDIT_LOG, data: Buffer.from(line).toString("base64") });
}
