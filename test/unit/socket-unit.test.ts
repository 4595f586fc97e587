import { describe, expect, test } from "vitest";
import { editSocket, explainSocket, mayConnect, renderSocket } from "../../src/remediation/emergency/socket-unit.ts";

// ProjectMeats' deployment/systemd/projectmeats.socket as shipped.
const SHIPPED = `[Unit]
Description=ProjectMeats Gunicorn socket

[Socket]
ListenStream=/run/projectmeats.sock
SocketUser=projectmeats
SocketGroup=www-data
SocketMode=0600

[Install]
WantedBy=sockets.target
`;
const WWW = { uid: 33, gids: [33] };

describe("whether nginx's worker may connect to a unix socket", () => {
  test("owner, group and other bits each decide for whom they apply, never for the others", () => {
    expect(mayConnect(WWW, { uid: 999, gid: 33 }, 0o660)).toBe(true);
    expect(mayConnect(WWW, { uid: 999, gid: 33 }, 0o600)).toBe(false);
    expect(mayConnect(WWW, { uid: 999, gid: 999 }, 0o660)).toBe(false);
    expect(mayConnect(WWW, { uid: 999, gid: 999 }, 0o666)).toBe(true);
    // The owner's bits rule the owner even when the group would let it in.
    expect(mayConnect(WWW, { uid: 33, gid: 33 }, 0o060)).toBe(false);
    expect(mayConnect({ uid: 0, gids: [0] }, { uid: 999, gid: 999 }, 0o600)).toBe(true);
  });
});

describe("the socket unit emergency-reset writes", () => {
  test("an existing unit keeps every line but the directives it must change, in place", () => {
    const out = editSocket(SHIPPED, { ListenStream: "/run/projectmeats.sock", SocketUser: "projectmeats", SocketGroup: "www-data", SocketMode: "0660" });
    expect(out).toBe(SHIPPED.replace("SocketMode=0600", "SocketMode=0660"));
  });

  test("a directive the [Socket] section lacks is added at its end, a repeated one is written once", () => {
    const tutorial =
      "[Unit]\nDescription=gunicorn socket\n\n[Socket]\nListenStream=/run/elsewhere.sock\nListenStream=/run/other.sock\n\n[Install]\nWantedBy=sockets.target\n";
    const out = editSocket(tutorial, { ListenStream: "/run/gunicorn.sock", SocketMode: "0660" });
    expect(out).toBe(
      "[Unit]\nDescription=gunicorn socket\n\n[Socket]\nListenStream=/run/gunicorn.sock\nSocketMode=0660\n\n[Install]\nWantedBy=sockets.target\n",
    );
  });

  test("rendered from scratch when the unit is gone; the plan names each change and why", () => {
    const content = renderSocket("gunicorn.service", { ListenStream: "/run/gunicorn.sock", SocketUser: "sammy", SocketGroup: "www-data", SocketMode: "0660" });
    expect(content).toMatch(/^\[Socket\]\nListenStream=\/run\/gunicorn\.sock\nSocketUser=sammy\nSocketGroup=www-data\nSocketMode=0660\n/m);
    expect(content).toContain("WantedBy=sockets.target");
    const plan = { id: "gunicorn.socket", file: "/etc/systemd/system/gunicorn.socket", listen: "/run/gunicorn.sock", why: [], dropIns: [], wasActive: false };
    expect(explainSocket({ ...plan, content })).toEqual([
      "gunicorn.socket ListenStream=/run/gunicorn.sock: added (where nginx's site proxies)",
      "gunicorn.socket SocketUser=sammy: added (nginx's worker may connect (SVC-020))",
      "gunicorn.socket SocketGroup=www-data: added (nginx's worker may connect (SVC-020))",
      "gunicorn.socket SocketMode=0660: added (nginx's worker may connect (SVC-020))",
    ]);
    expect(explainSocket({ ...plan, current: SHIPPED, content: SHIPPED.replace("0600", "0660") })).toEqual([
      "gunicorn.socket SocketMode=0660: changed (nginx's worker may connect (SVC-020))",
    ]);
  });
});

test("a [Socket] section last in the file gets its missing directives before the file's end", () => {
  expect(editSocket("[Socket]\nListenStream=/run/a.sock\n", { ListenStream: "/run/a.sock", SocketMode: "0660" })).toBe(
    "[Socket]\nListenStream=/run/a.sock\nSocketMode=0660\n",
  );
});
