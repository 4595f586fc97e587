import { hostCli, validateInside, idsWith } from "../test/e2e/hosts.ts";
import { listScenarios, loadScenario } from "../fixtures/host/scenarios.ts";
const only = process.argv.slice(2);
for (const name of only.length ? only : await listScenarios()) {
  const s = await loadScenario(name);
  const host = `t-${name}`.slice(0, 31).replace(/-$/, "");
  const t0 = Date.now();
  const up = await hostCli(["up", "--scenario", name, "--name", host]);
  if (up.exitCode !== 0) { console.log(`${name}: UP FAILED ${up.stderr}`); continue; }
  const v = await validateInside(host, [], name);
  const failed = idsWith(v.results, "fail"), errors = idsWith(v.results, "error");
  const ok = JSON.stringify(failed) === JSON.stringify([...s.expectFail].sort()) && errors.length === 0;
  console.log(`${ok ? "OK  " : "BAD "} ${name} ${((Date.now()-t0)/1000).toFixed(1)}s failed=${failed} errors=${errors} expected=${s.expectFail}`);
  if (!ok) for (const r of v.results.filter(r => r.status === "fail" || r.status === "error")) console.log(`     ${r.id} ${r.status}: ${r.observed.slice(0, 200)}`);
  await hostCli(["down", host]);
}
