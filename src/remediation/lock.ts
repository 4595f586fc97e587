import type { Transport } from "../transport/types.ts";
import { EXIT, RemediateError } from "./errors.ts";
import { STATE_DIR, must } from "./backup.ts";

const LOCK = `${STATE_DIR}/lock`;

// Takes the host's remediation lock (an atomic mkdir holding who took it); a lock whose process is gone is taken over.
export async function takeLock(t: Transport, who: { pid: number; user: string; report: string }): Promise<() => Promise<void>> {
  await must(t, ["install", "-d", "-m", "700", STATE_DIR]);
  for (let attempt = 0; attempt < 2; attempt++) {
    const r = await t.run(["mkdir", LOCK]);
    if (r.exitCode === 0) {
      await must(t, ["dd", `of=${LOCK}/owner.json`, "status=none"], JSON.stringify({ ...who, since: new Date().toISOString() }));
      return async () => void (await t.run(["rm", "-rf", "--", LOCK]));
    }
    const owner = await t.readFile(`${LOCK}/owner.json`).then((s) => JSON.parse(s) as { pid: number; user: string; since: string; report: string }).catch(() => undefined);
    // Held by a live process (or being written this instant): refuse, and say by whom.
    const alive = owner ? (await t.run(["kill", "-0", String(owner.pid)])).exitCode === 0 : true;
    if (alive) {
      const by = owner ? `pid ${owner.pid} (${owner.user}, since ${owner.since}, report ${owner.report})` : "a process that is just starting";
      throw new RemediateError(`another remediation is running on this host: ${by}; wait for it, or remove ${LOCK} if that process is gone`, EXIT.locked);
    }
    await t.run(["rm", "-rf", "--", LOCK]); // stale: its process died without releasing it
  }
  throw new RemediateError(`could not take the lock ${LOCK}`, EXIT.locked);
}
