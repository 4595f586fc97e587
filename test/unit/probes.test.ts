import { describe, expect, test } from "vitest";
import { parseEnvironment, securityExposure, serviceUnit, showUnits, wsgiModule } from "../../src/probes/systemd.ts";
import { Evaluator } from "../../src/runner/evaluate.ts";
import { TransportError } from "../../src/transport/types.ts";
import { healthyCommands } from "./healthy-replay.ts";
import { recorded, replayContext, replayTransport } from "./replay.ts";

const show = recorded("systemctl-show-healthy.txt");
const healthy = (showText = show) => healthyCommands(showText);

describe("systemd probes on recorded output", () => {
  test("one systemctl show describes the service and its dependencies", async () => {
    const t = replayTransport(healthy());
    const ctx = replayContext(t);
    const u = await serviceUnit(ctx);
    expect(u).toMatchObject({
      id: "projectmeats.service",
      activeState: "active",
      subState: "running",
      user: "projectmeats",
      group: "www-data",
      workingDirectory: "/opt/projectmeats/backend",
      restart: "on-failure",
      unitFileState: "enabled",
    });
    expect(u.environmentFiles).toEqual([{ path: "/etc/projectmeats/projectmeats.env", optional: false }]);
    expect(u.execStart?.path).toBe("/opt/projectmeats/venv/bin/gunicorn");
    expect(u.environment.PYTHONPATH).toBe("/opt/projectmeats/backend");
    expect((await showUnits(ctx)).get("postgresql")?.subState).toBe("exited");
    await serviceUnit(ctx);
    expect(t.calls.filter((c) => c[0] === "systemctl")).toHaveLength(1); // memoised: one call serves every check
    expect(t.calls).toHaveLength(4); // and one busctl per unit, alongside
  });

  test("the WSGI module is found wherever it sits in ExecStart", async () => {
    const u = await serviceUnit(replayContext(replayTransport(healthy())));
    expect(wsgiModule(u)).toBe("projectmeats.wsgi");
    expect(wsgiModule({ ...u, execStart: { path: "/x/gunicorn", argv: ["/x/gunicorn", "x.wsgi:application", "--bind", "127.0.0.1:8000"] } })).toBe("x.wsgi");
  });

  test("parseEnvironment keeps quoted values with spaces", () => {
    expect(parseEnvironment('A=1 "B=two words" C=')).toEqual({ A: "1", B: "two words", C: "" });
  });

  test("the exposure score is read from systemd-analyze security", async () => {
    const ctx = replayContext(replayTransport({ "systemd-analyze security": { stdout: recorded("systemd-analyze-security.txt") } }));
    expect((await securityExposure(ctx)).score).toBe(3.3);
  });
});

describe("evaluation", () => {
  test("a stopped PostgreSQL is one red check; the database checks are blocked by it", async () => {
    const stopped = show
      .replace(/(Id=postgresql.service[\s\S]*?)ActiveState=active/, "$1ActiveState=inactive")
      .replace(/(Id=postgresql.service[\s\S]*?)SubState=exited/, "$1SubState=dead");
    const ev = new Evaluator(replayContext(replayTransport(healthy(stopped))));
    const [pg, db1, db2] = await ev.all(["SVC-012", "DB-001", "DB-002"]);
    expect(pg).toMatchObject({ status: "fail", observed: expect.stringContaining("ActiveState=inactive") });
    expect(db1).toMatchObject({ status: "skip", blockedBy: "SVC-012" });
    expect(db2).toMatchObject({ status: "skip", blockedBy: "SVC-012" });
  });

  test("when we cannot look (systemctl missing, a timeout) the check errors, never passes", async () => {
    const ev = new Evaluator(replayContext(replayTransport({ "systemctl show": new TransportError("systemctl timed out after 10000 ms", "ETIMEDOUT") })));
    const [unit, enabled, http] = await ev.all(["SVC-016", "SVC-002", "HTTP-001"]);
    expect(unit).toMatchObject({ status: "error", observed: expect.stringContaining("timed out") });
    expect(enabled).toMatchObject({ status: "skip", blockedBy: "SVC-016" });
    expect(http?.status).toBe("skip");
  });
});
