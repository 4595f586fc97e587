import { HostError } from "../../fixtures/host/errors.ts";
import { buildImage } from "../../fixtures/host/image.ts";
import { listHosts, teardown } from "../../fixtures/host/machine.ts";
import { phaseTable, resetPhases } from "./phases.ts";

// Builds (or reuses) the reference image once before any test that boots a host; afterwards, removes any
// host a failed or interrupted test left behind (and says so, because that is a bug to fix).
export default async function setup() {
  if (process.env.DDV_SKIP_E2E === "1") return;
  // DDV_NO_SWEEP=1: leave other people's hosts alone (running one e2e file while others develop).
  const sweep = async () => {
    if (process.env.DDV_NO_SWEEP === "1") return;
    for (const h of await listHosts()) {
      if (!h.name.startsWith("e2e-")) continue;
      process.stderr.write(`[hosts] removing leftover host ${h.name}\n`);
      await teardown(h.name);
    }
  };
  try {
    await sweep();
  } catch {}
  resetPhases();
  const t0 = Date.now();
  const img = await buildImage((l) => process.stderr.write(`[image] ${l}\n`)).catch((err: unknown) => {
    if (!(err instanceof HostError)) throw err;
    process.stderr.write(`\n${err.message}\n(set DDV_SKIP_E2E=1 to run only the unit tests)\n`);
    process.exit(err.exitCode);
  });
  process.stderr.write(`[image] ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (${img.built.length ? `built ${img.built.join(", ")}` : "reused"})\n`);
  return async () => {
    await sweep();
    const table = phaseTable();
    if (table) process.stdout.write(`\n${table}\n`);
  };
}
