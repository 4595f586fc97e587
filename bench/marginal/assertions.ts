import { gunicornBase } from "../../src/probes/endpoint.ts";
// Runtime for the generated marginal-cost specs: N assertions of one kind (file, unit, http), each a vitest test
// judged through the validator's own machinery (ProbeContext, the local transport, memoised probes, the Evaluator,
// Allure labels, the project's reporters), so the slope per added assertion is what a new check would cost.
import * as allure from "allure-js-commons";
import { afterAll, beforeAll, expect, test } from "vitest";
import { type Check, defineCheck, fail, pass } from "../../src/checks/define.ts";
import { loadConfig } from "../../src/config/load.ts";
import { ProbeContext } from "../../src/probes/context.ts";
import { fetchCached } from "../../src/probes/http.ts";
import { showProperties } from "../../src/probes/systemctl-show.ts";
import { Evaluator } from "../../src/runner/evaluate.ts";
import { createLocalTransport } from "../../src/transport/local.ts";

export type Kind = "file" | "unit" | "http";

// Every unit's state in one `systemctl show` (the validator's way: one call serves many checks).
function unitStates(ctx: ProbeContext, units: string[]): Promise<Map<string, string>> {
  return ctx.once("bench:units", async () => {
    return new Map((await showProperties(ctx.transport, units, ["Id", "LoadState"])).map((m) => [m.one("Id"), m.one("LoadState")]));
  });
}

// One check per target: a file exists, a unit is loaded, a URL answers below 500.
function checkFor(kind: Kind, target: string, i: number, all: string[]): Check {
  const id = `${kind === "file" ? "FS" : kind === "unit" ? "SVC" : "HTTP"}-${String(i).padStart(3, "0")}`;
  const meta = {
    id,
    title: `bench ${kind} ${target}`,
    suite: "service" as const,
    severity: "low" as const,
    expects: `${target} is there`,
    recommendation: "none (benchmark)",
  };
  if (kind === "file")
    return defineCheck(meta, { run: async (ctx) => ((await ctx.transport.stat(target)) ? pass(`${target} exists`) : fail(`${target} is missing`)) });
  if (kind === "unit")
    return defineCheck(meta, { run: async (ctx) => ((await unitStates(ctx, all)).get(target) === "loaded" ? pass("loaded") : fail(`${target} not loaded`)) });
  return defineCheck(meta, {
    run: async (ctx) => {
      const r = await fetchCached(ctx, await gunicornBase(ctx), target);
      return "error" in r || r.status >= 500 ? fail(`${target}: no good answer`) : pass(`HTTP ${r.status}`);
    },
  });
}

// Registers one test per target; all start evaluating before the first test, as the validator's specs do.
export function registerAssertions(kind: Kind, targets: string[]) {
  const checks = targets.map((t, i) => checkFor(kind, t, i + 1, [...new Set(targets)]));
  const byId = new Map(checks.map((c) => [c.id, c]));
  // 200 HTTP checks queue for 16 connections to three Gunicorn workers: give each the time the queue needs.
  const loaded = loadConfig();
  const config = { ...loaded, timeouts: { ...loaded.timeouts, httpMs: 20_000 } };
  const ctx = new ProbeContext(config, createLocalTransport(config.timeouts.commandMs));
  const ev = new Evaluator(ctx, new Set(byId.keys()), (id) => byId.get(id) as Check);
  beforeAll(() => {
    for (const c of checks) void ev.evaluate(c.id);
  });
  afterAll(() => ctx.close());
  for (const c of checks)
    test(`${c.id} ${c.title}`, async () => {
      await allure.allureId(c.id);
      await allure.label("check_id", c.id);
      const o = await ev.evaluate(c.id);
      expect(o.status, o.observed).toBe("pass");
    });
}
