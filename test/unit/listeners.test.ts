import { describe, expect, test } from "vitest";
import { checkById } from "../../src/checks/index.ts";
import { listenersOn } from "../../src/probes/process.ts";
import { TransportError } from "../../src/transport/types.ts";
import { healthyCommands } from "./healthy-replay.ts";
import { replayContext, replayTransport } from "./replay.ts";

// /proc/net/tcp with one listener on 127.0.0.1:8000 (0100007F:1F40, state 0A, inode 4242).
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 4242 1 0000000000000000 100 0 0 10 0
`;

// /proc with the given processes; `fds` maps pid to its fd links, or to an errno its fd directory answers with.
function procTransport(fds: Record<string, Record<string, string> | string>) {
  const t = replayTransport(healthyCommands(), { "/proc/net/tcp": TCP, "/proc/900/comm": "python3\n" });
  t.readDir = async (p) => {
    if (p === "/proc") return ["1", ...Object.keys(fds), "self"];
    const pid = p.match(/^\/proc\/(\d+)\/fd$/)?.[1];
    const entry = pid ? fds[pid] : undefined;
    if (typeof entry === "string") throw new TransportError(`cannot list ${p}: ${entry}`, entry);
    if (entry) return Object.keys(entry);
    throw new TransportError(`cannot list ${p}: ENOENT`, "ENOENT");
  };
  t.readLink = async (p) => {
    const [, pid, fd] = p.match(/^\/proc\/(\d+)\/fd\/(\d+)$/) ?? [];
    const entry = pid ? fds[pid] : undefined;
    return typeof entry === "object" ? entry[fd as string] : undefined;
  };
  return t;
}

describe("listenersOn", () => {
  test("finds the holder of the listening socket", async () => {
    const ls = await listenersOn(replayContext(procTransport({ "900": { "3": "socket:[4242]" } })), 8000);
    expect([...ls]).toEqual([{ address: "127.0.0.1", port: 8000, inode: "4242", pid: 900, comm: "python3" }]);
    expect(ls.unreadable).toBe(0);
  });

  test("several processes hold the socket: the first listed wins, however late its links answer (reads run together)", async () => {
    const t = procTransport({ "900": { "3": "socket:[4242]" }, "901": { "3": "socket:[4242]" } });
    const read = t.readLink;
    let inFlight = 0;
    let most = 0;
    t.readLink = async (p) => {
      most = Math.max(most, ++inFlight);
      // The first process's links answer last, as a busy remote host might.
      await new Promise((r) => setTimeout(r, p.startsWith("/proc/900/") ? 30 : 1));
      inFlight--;
      return read(p);
    };
    const ls = await listenersOn(replayContext(t), 8000);
    expect(ls[0]).toMatchObject({ pid: 900, comm: "python3" });
    expect(most).toBeGreaterThan(1);
  });

  test("holder not found and some fd directories unreadable: pid stays undefined and `unreadable` says why", async () => {
    const ls = await listenersOn(replayContext(procTransport({ "900": "EACCES", "901": "EPERM", "902": { "0": "/dev/null" }, "903": "ENOENT" })), 8000);
    expect(ls[0]?.pid).toBeUndefined();
    expect(ls.unreadable).toBe(2); // 903 exited meanwhile: not counted
  });

  test("holder not found with every fd directory read: unreadable is 0 (a socket of another namespace)", async () => {
    const ls = await listenersOn(replayContext(procTransport({ "902": { "0": "/dev/null" } })), 8000);
    expect(ls).toHaveLength(1);
    expect(ls[0]?.pid).toBeUndefined();
    expect(ls.unreadable).toBe(0);
  });

  test("any other failure listing an fd directory (a timeout) is an error", async () => {
    await expect(listenersOn(replayContext(procTransport({ "900": "ETIMEDOUT" })), 8000)).rejects.toMatchObject({ code: "ETIMEDOUT" });
  });
});

describe("SVC-015 when the holder cannot be seen", () => {
  const svc015 = checkById("SVC-015");
  test("an unreadable fd directory makes it an error that says so, never a pass", async () => {
    const run = svc015.run(replayContext(procTransport({ "900": "EACCES" })));
    await expect(run).rejects.toThrow("cannot tell which process holds 127.0.0.1:8000: 1 processes' /proc/<pid>/fd could not be read");
  });
  test("a holder outside this PID namespace is an error too", async () => {
    await expect(svc015.run(replayContext(procTransport({ "902": { "0": "/dev/null" } })))).rejects.toThrow("no process in this PID namespace holds it");
  });
  test("the unit's own process holding it passes; a stranger fails", async () => {
    // The recorded healthy unit's MainPID is 70.
    expect(await svc015.run(replayContext(procTransport({ "70": { "5": "socket:[4242]" } })))).toMatchObject({ pass: true });
    expect(await svc015.run(replayContext(procTransport({ "900": { "3": "socket:[4242]" } })))).toMatchObject({ pass: false });
  });
});
