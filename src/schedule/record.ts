import { z } from "zod";
import { must } from "../remediation/backup.ts";
import { pinned } from "../remediation/pinned.ts";
import type { Transport } from "../transport/types.ts";

// What install left on the host, for uninstall and status: root-only, beside remediation's state.
export const SCHEDULE_DIR = "/var/lib/ddv/schedule";
export const RECORD = `${SCHEDULE_DIR}/installed.json`;

const Record = z.object({
  installedAt: z.string(),
  // The remediation-style backup folder whose manifest.json lists every path install created or changed.
  backup: z.string(),
  units: z.array(z.string()),
  every: z.string(),
  // Whether --on-failure was given (the command itself is only in the root-only failure script).
  onFailure: z.boolean(),
  checkout: z.string(),
  node: z.string(),
});
export type InstallRecord = z.infer<typeof Record>;

// The record, undefined when nothing is installed; a damaged one throws with the file named.
export async function readRecord(t: Transport): Promise<InstallRecord | undefined> {
  if (!(await t.stat(RECORD))) return undefined;
  try {
    return Record.parse(JSON.parse(await t.readFile(RECORD)));
  } catch (err) {
    throw new Error(`${RECORD} cannot be read as an install record: ${(err as Error).message.split("\n")[0]}`);
  }
}

// Writes the record (fsynced, renamed into place; private to root: the failure command may name a webhook).
export async function writeRecord(t: Transport, r: InstallRecord) {
  await must(t, ["install", "-d", "-m", "700", SCHEDULE_DIR]);
  await pinned(t, { op: "write", path: RECORD, data: Buffer.from(`${JSON.stringify(r, null, 2)}\n`).toString("base64"), mode: 0o600, owner: 0, group: 0 });
}

// Removes the record (the last step of uninstall).
export async function removeRecord(t: Transport) {
  await pinned(t, { op: "remove", path: RECORD });
}
