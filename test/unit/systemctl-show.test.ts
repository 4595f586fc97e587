import { describe, expect, test } from "vitest";
import { parseShow, showProperties } from "../../src/probes/systemctl-show.ts";
import { TransportError } from "../../src/transport/types.ts";
import { recorded, replayTransport } from "./replay.ts";

// systemd 252's answer for a socket that listens twice, a service it does not know, and nginx (in the order asked).
const THREE = [
  "Id=gunicorn.socket",
  "LoadState=loaded",
  "ActiveState=active",
  "Listen=/run/gunicorn.sock (Stream)",
  "Listen=127.0.0.1:8001 (Stream)",
  "",
  "Id=nosuch.service",
  "LoadState=not-found",
  "ActiveState=inactive",
  "Listen=",
  "",
  "Id=nginx.service",
  "LoadState=loaded",
  "ActiveState=active",
  "Listen=",
  "",
].join("\n");

describe("showProperties: one systemctl show, one record per unit", () => {
  test("several units in the order asked, a repeated key keeping every value, a missing one reading as empty", async () => {
    const t = replayTransport({ "systemctl show": { stdout: THREE } });
    const shown = await showProperties(t, ["gunicorn.socket", "nosuch.service", "nginx.service"], ["Id", "LoadState", "ActiveState", "Listen"], 2_000);
    expect(t.calls).toEqual([
      ["systemctl", "show", "--no-pager", "gunicorn.socket", "nosuch.service", "nginx.service", "-p", "Id,LoadState,ActiveState,Listen"],
    ]);
    expect(shown.map((u) => u.one("Id"))).toEqual(["gunicorn.socket", "nosuch.service", "nginx.service"]);
    expect(shown[0]?.get("Listen")).toEqual(["/run/gunicorn.sock (Stream)", "127.0.0.1:8001 (Stream)"]);
    expect(shown[0]?.one("Listen")).toBe("/run/gunicorn.sock (Stream)");
    expect(shown[2]?.one("SubState")).toBe(""); // not asked, not printed: empty, never a made-up value
  });

  test("a unit systemd does not know still answers, with LoadState=not-found", async () => {
    const t = replayTransport({ "systemctl show": { stdout: "Id=nosuch.service\nLoadState=not-found\nActiveState=inactive\n" } });
    const [unit] = await showProperties(t, ["nosuch.service"], ["Id", "LoadState", "ActiveState"]);
    expect(unit?.one("LoadState")).toBe("not-found");
    expect(unit?.one("ActiveState")).toBe("inactive");
  });

  test("a non-zero exit throws, quoting what systemctl said", async () => {
    const refused = replayTransport({
      "systemctl show": { exitCode: 1, stderr: "Failed to get properties: Access denied\n" },
    });
    const err = await showProperties(refused, ["projectmeats.service"], ["LoadState"]).catch((e: TransportError) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).code).toBe("ESYSTEMCTL");
    expect((err as Error).message).toBe("systemctl show projectmeats.service failed (exit 1): Failed to get properties: Access denied");
    // Where systemd is not PID 1 (the answer recorded on a machine without it): one line, its own code.
    const noSystemd = replayTransport({
      "systemctl show": {
        exitCode: 1,
        stderr: "System has not been booted with systemd as init system (PID 1). Can't operate.\nFailed to connect to bus: Host is down\n",
      },
    });
    await expect(showProperties(noSystemd, ["projectmeats.service"], ["LoadState"])).rejects.toMatchObject({
      code: "ENOSYSTEMD",
      message: "systemd is not running on this host (PID 1 is not systemd): systemctl cannot answer",
    });
  });

  test("no unit asked: systemctl is not run (it would describe the manager itself)", async () => {
    const t = replayTransport({});
    expect(await showProperties(t, [], ["Id"])).toEqual([]);
    expect(t.calls).toEqual([]);
  });

  test("parseShow reads a recorded answer for three units the same way", () => {
    const units = parseShow(recorded("systemctl-show-healthy.txt"));
    expect(units.map((u) => u.one("Id"))).toEqual(["projectmeats.service", "postgresql.service", "nginx.service"]);
  });
});
