import { describe, expect, test } from "vitest";
import { argvOptions } from "../../src/probes/gunicorn.ts";
import { parseBusExecStart, parseTimespan, serviceUnit, showUnits, unitBusPath, unitName, wsgiModule } from "../../src/probes/systemd.ts";
import { Evaluator } from "../../src/runner/evaluate.ts";
import { BUS, healthyCommands } from "./healthy-replay.ts";
import { recorded, replayContext, replayTransport } from "./replay.ts";

describe("ExecStart as systemd holds it (busctl, recorded on a reference host)", () => {
  test("a quoted argument with spaces and quotes stays one argument", async () => {
    const t = replayTransport(healthyCommands(recorded("systemctl-show-quoted-dropin.txt"), recorded("busctl-execstart-projectmeats-quoted.json")));
    const u = await serviceUnit(replayContext(t));
    // The drop-in says: --access-logformat "%%(h)s \"%%(r)s\" %%(s)s"
    expect(u.execStart?.argv).toContain('%(h)s "%(r)s" %(s)s'); // one argument, quotes and spaces kept
    expect(argvOptions(u.execStart?.argv ?? [])).toMatchObject({ timeout: ["120"], workers: ["3"] });
    expect(wsgiModule(u)).toBe("projectmeats.wsgi");
    expect(u.execStart?.argv).toHaveLength(12);
    // systemctl show's text would have split it into three words, one of them a lone quote-carrying piece
    expect(recorded("systemctl-show-quoted-dropin.txt")).toContain('--access-logformat %(h)s "%(r)s" %(s)s --timeout');
  });

  test("nginx's -g 'daemon on; master_process on;' is one argument", async () => {
    const units = await showUnits(replayContext(replayTransport(healthyCommands())));
    expect(units.get("nginx")?.execStart?.argv).toEqual(["/usr/sbin/nginx", "-g", "daemon on; master_process on;"]);
  });

  test("every ExecStart= line is kept; the gunicorn one (else the last) is execStart", () => {
    const lines = parseBusExecStart(recorded("busctl-execstart-oneshot-two-lines.json"));
    expect(lines).toEqual([
      { path: "/bin/echo", argv: ["/bin/echo", "a b", 'c"d', "e\\", "f"] },
      { path: "/bin/sh", argv: ["/bin/sh", "-c", "echo $$HOME; exit 0"] },
    ]);
  });

  test("with several lines, execStart is the one naming gunicorn", async () => {
    const two = JSON.stringify({
      type: "a(sasbttttuii)",
      data: [
        ["/usr/bin/env", ["/usr/bin/env", "true"], false, 0, 0, 0, 0, 0, 0, 0],
        ...JSON.parse(recorded("busctl-execstart-projectmeats.json")).data,
        ["/bin/true", ["/bin/true"], false, 0, 0, 0, 0, 0, 0, 0],
      ],
    });
    const u = await serviceUnit(replayContext(replayTransport(healthyCommands(undefined, two))));
    expect(u.execStarts.map((l) => l.path)).toEqual(["/usr/bin/env", "/opt/projectmeats/venv/bin/gunicorn", "/bin/true"]);
    expect(u.execStart?.path).toBe("/opt/projectmeats/venv/bin/gunicorn");
  });

  test("busctl failing for a loaded unit: reading ExecStart is an error, never an empty ExecStart; other facts stay", async () => {
    const cmds = { ...healthyCommands(), [`${BUS}projectmeats_2eservice `]: { exitCode: 1, stderr: "Failed to connect to bus: No such file or directory" } };
    const u = await serviceUnit(replayContext(replayTransport(cmds)));
    expect(u.activeState).toBe("active");
    expect(() => u.execStart).toThrow(/busctl get-property .* failed \(exit 1\): Failed to connect to bus/);
    expect(() => u.execStarts).toThrow(/busctl/);
    const [exec, unit] = await new Evaluator(replayContext(replayTransport(cmds))).all(["SVC-006", "SVC-016"]);
    expect(exec).toMatchObject({ status: "error", observed: expect.stringContaining("Failed to connect to bus") });
    expect(unit?.status).toBe("pass");
  });

  test("a unit systemd does not know has no ExecStart (busctl answers an empty array)", async () => {
    const notFound = recorded("systemctl-show-healthy.txt").replace("LoadState=loaded", "LoadState=not-found");
    const u = await serviceUnit(replayContext(replayTransport(healthyCommands(notFound, '{"type":"a(sasbttttuii)","data":[]}'))));
    expect(u.execStart).toBeUndefined();
    expect(u.execStarts).toEqual([]);
  });

  test("bus paths escape as sd_bus_path_encode does (checked against the real bus)", () => {
    expect(unitBusPath("projectmeats.service")).toBe("/org/freedesktop/systemd1/unit/projectmeats_2eservice");
    expect(unitBusPath("postgresql@15-main.service")).toBe("/org/freedesktop/systemd1/unit/postgresql_4015_2dmain_2eservice");
    expect(unitBusPath("h3-multi.service")).toBe("/org/freedesktop/systemd1/unit/h3_2dmulti_2eservice");
    expect(unitBusPath("2fa.service")).toBe("/org/freedesktop/systemd1/unit/_32fa_2eservice");
  });

  test("CPUQuotaPerSecUSec as systemctl prints it", () => {
    expect(parseTimespan("infinity")).toBeUndefined();
    expect(parseTimespan("500ms")).toBe(0.5);
    expect(parseTimespan("1.500000s")).toBe(1.5);
    expect(parseTimespan("1min 30s")).toBe(90);
  });
});

describe("unit names with or without .service", () => {
  test("unitName completes like systemctl", () => {
    expect(unitName("postgresql")).toBe("postgresql.service");
    expect(unitName("postgresql.service")).toBe("postgresql.service");
    expect(unitName("postgresql@15-main")).toBe("postgresql@15-main.service");
    expect(unitName("my.app")).toBe("my.app.service");
  });

  test("a config naming units with .service works: no postgresql.service.service anywhere", async () => {
    const t = replayTransport(healthyCommands());
    const ctx = replayContext(t, { service: "projectmeats.service", dependencies: { postgresql: "postgresql.service", nginx: "nginx.service" } });
    expect((await serviceUnit(ctx)).id).toBe("projectmeats.service");
    const units = await showUnits(ctx);
    for (const k of ["postgresql", "postgresql.service", "nginx", "nginx.service", "projectmeats"]) expect(units.get(k)?.loadState).toBe("loaded");
    expect(t.calls[0]).toEqual(expect.arrayContaining(["projectmeats.service", "postgresql.service", "nginx.service"]));
    expect(t.calls.flat().join(" ")).not.toContain(".service.service");
    const [svc, pg, nginx] = await new Evaluator(ctx).all(["SVC-016", "SVC-012", "SVC-013"]);
    expect([svc?.status, pg?.status, nginx?.status]).toEqual(["pass", "pass", "pass"]);
  });

  test("an instance unit like postgresql@15-main is shown and found under its name", async () => {
    const show = recorded("systemctl-show-healthy.txt").replace("Id=postgresql.service", "Id=postgresql@15-main.service");
    const t = replayTransport({
      ...healthyCommands(show),
      [`${BUS}postgresql_4015_2dmain_2eservice `]: { stdout: recorded("busctl-execstart-postgresql.json") },
    });
    const ctx = replayContext(t, { dependencies: { postgresql: "postgresql@15-main" } });
    expect((await showUnits(ctx)).get("postgresql@15-main")?.id).toBe("postgresql@15-main.service");
    expect(t.calls[0]).toContain("postgresql@15-main.service");
    const [pg] = await new Evaluator(ctx).all(["SVC-012"]);
    expect(pg?.status).toBe("pass");
  });
});
