import { expect, test } from "vitest";
import { describeE2E } from "./e2e.ts";
import { hostCli, idsWith, validateInside } from "./hosts.ts";
import { shInside } from "./remediation-helpers.ts";
import tls from "../../fixtures/flavours/tls.ts";
import { loadFlavour } from "../../fixtures/flavours/flavour.ts";
import { REPO_ROOT } from "../../fixtures/host/paths.ts";

// Deployment shapes other than our reference host, each healthy by construction: the smoke gate is green, the full
// run fails nothing at failOn's default (high) except the shape's own real findings, and a fault that breaks the
// site turns the gate red naming it. Faults are applied one after another on one host per flavour, each undone.
type Fault = { name: string; apply: string; undo: string; red: string[] };
type Shape = {
  flavour: string;
  findings: string[];
  redFindings: string[];
  faults: Fault[];
  service: string;
  site: string;
  // What emergency-reset's plan must say it kept of this shape.
  kept: RegExp;
  // Checks that apply because of this shape and must pass on it (skipped elsewhere).
  passes?: string[];
};

const SHAPES: Shape[] = [
  {
    // Our reference host: nothing fails; here for emergency-reset (healthy, mangled, deleted) like every shape.
    flavour: "reference",
    service: "projectmeats",
    site: "curl -fsS -o /dev/null -H 'Host: meatscentral.com' http://127.0.0.1/health/ && curl -fsS -o /dev/null http://127.0.0.1:8000/health/",
    kept: /Gunicorn's bind 127\.0\.0\.1:8000/,
    findings: [],
    redFindings: [],
    faults: [],
  },
  {
    // ProjectMeats as its repository ships it: its real findings (test/e2e/as-shipped.test.ts says why each).
    flavour: "as-shipped",
    service: "projectmeats",
    site: "curl -fsS -o /dev/null -H 'Host: meatscentral.com' http://127.0.0.1/health/ && curl -fsS -o /dev/null http://127.0.0.1:8000/health/",
    kept: /Gunicorn's bind 127\.0\.0\.1:8000/,
    findings: ["FS-006", "HTTP-008", "SEC-004", "SEC-005", "SEC-009", "SVC-017", "SVC-019"],
    redFindings: ["FS-006", "HTTP-008", "SVC-017", "SVC-019"],
    faults: [],
  },
  {
    // ProjectMeats' own socket deployment (deployment/systemd/README.md): the real findings of its shipped unit and
    // site remain (HTTP-008 and SVC-017 high; the rest advice).
    flavour: "pm-socket",
    service: "projectmeats",
    site: "curl -fsS -o /dev/null -H 'Host: meatscentral.com' http://127.0.0.1/health/ && curl -s -o /dev/null -w '%{http_code}' -H 'Host: meatscentral.com' http://127.0.0.1/api/v1/ | grep -qx 403",
    kept: /kept from the deployment: socket activation by projectmeats\.socket/,
    findings: ["HTTP-008", "SEC-004", "SEC-005", "SEC-009", "SVC-017"],
    redFindings: ["HTTP-008", "SVC-017"],
    faults: [
      {
        name: "the socket and the service stopped (nginx answers 502)",
        apply: "systemctl stop projectmeats.socket projectmeats.service",
        undo: "systemctl start projectmeats.socket projectmeats.service",
        red: ["SVC-001"],
      },
      {
        // The site's @health_fallback answers /health/ "healthy" while Django is unreachable: SVC-020 names why.
        name: "the socket's mode shuts nginx out (502 through nginx)",
        apply: "chmod 600 /run/projectmeats.sock",
        undo: "chmod 660 /run/projectmeats.sock",
        red: ["SVC-020"],
      },
      {
        name: "ALLOWED_HOSTS loses www.meatscentral.com, a name the site serves (400 for those visitors)",
        apply:
          "sed -i 's/^ALLOWED_HOSTS=.*/ALLOWED_HOSTS=localhost,127.0.0.1,meatscentral.com/' /etc/projectmeats/projectmeats.env && systemctl restart projectmeats",
        undo: "sed -i 's/^ALLOWED_HOSTS=.*/ALLOWED_HOSTS=localhost,127.0.0.1,meatscentral.com,www.meatscentral.com/' /etc/projectmeats/projectmeats.env && systemctl restart projectmeats",
        red: ["HTTP-009"],
      },
    ],
  },
  {
    // The tutorial shape: settings in settings.py, no env file, socket activation with only the socket enabled, no
    // health endpoint, no API. The config an operator writes for it is in the flavour (/etc/ddv/config.json).
    flavour: "tutorial",
    service: "gunicorn",
    site: "curl -fsS -o /dev/null -H 'Host: tutorial.example' http://127.0.0.1/admin/login/",
    kept: /kept from the deployment: socket activation by gunicorn\.socket/,
    // FS-008: the tutorial writes SECRET_KEY and the database password into settings.py, which every local user
    // can read (the home directory is opened for nginx's static files).
    findings: ["FS-008", "HTTP-006", "SEC-004", "SEC-005", "SEC-009", "SVC-008"],
    redFindings: ["FS-008"],
    faults: [
      {
        name: "the database password rotated under the app",
        apply: `runuser -u postgres -- psql -XAtq -c "ALTER ROLE myprojectuser PASSWORD 'rotated-elsewhere-0123456789'"`,
        undo: `pw=$(sed -n "s/^ *'PASSWORD': '\\(.*\\)',$/\\1/p" /home/sammy/myprojectdir/myproject/settings.py) && runuser -u postgres -- psql -XAtq -c "ALTER ROLE myprojectuser PASSWORD '$pw'"`,
        red: ["DB-001"],
      },
      {
        name: "the socket's mode shuts nginx's www-data out (502 through nginx)",
        apply: "chmod 600 /run/gunicorn.sock",
        undo: "chmod 666 /run/gunicorn.sock",
        red: ["SVC-020"],
      },
      {
        name: "ALLOWED_HOSTS loses tutorial.example, the name the site serves (every visitor gets 400)",
        apply: "sed -i \"s/^ALLOWED_HOSTS = .*/ALLOWED_HOSTS = ['localhost']/\" /home/sammy/myprojectdir/myproject/settings.py && systemctl restart gunicorn",
        undo: "sed -i \"s/^ALLOWED_HOSTS = .*/ALLOWED_HOSTS = ['tutorial.example', 'localhost']/\" /home/sammy/myprojectdir/myproject/settings.py && systemctl restart gunicorn",
        // The checks send Host: tutorial.example (hostHeader) to Gunicorn too: HTTP-001 is the root.
        red: ["HTTP-001"],
      },
      {
        // The tutorial's own troubleshooting trap: Debian 12 makes homes 0700, and nginx's worker cannot reach ~/myprojectdir/static.
        name: "the home directory back to 0700: every static file is 403 through nginx, the admin renders without CSS",
        apply: "chmod 700 /home/sammy",
        undo: "chmod 755 /home/sammy",
        red: ["HTTP-010"],
      },
      {
        name: "the socket stopped: nothing starts Gunicorn",
        apply: "systemctl stop gunicorn.socket gunicorn.service",
        undo: "systemctl start gunicorn.socket",
        red: ["SVC-001"],
      },
    ],
  },
  {
    // ASGI: Gunicorn running Uvicorn's worker on projectmeats.asgi:application; otherwise the reference host.
    flavour: "asgi",
    service: "projectmeats",
    site: "curl -fsS -o /dev/null -H 'Host: meatscentral.com' http://127.0.0.1/health/ && curl -fsS -o /dev/null http://127.0.0.1:8000/health/",
    kept: /uvicorn\.workers\.UvicornWorker/,
    findings: [],
    redFindings: [],
    faults: [
      {
        name: "the service stopped (nginx answers 502)",
        apply: "systemctl stop projectmeats",
        undo: "systemctl start projectmeats && for _ in $(seq 300); do curl -fs -o /dev/null http://127.0.0.1:8000/health/ && break; sleep 0.1; done",
        red: ["SVC-001"],
      },
      {
        name: "ALLOWED_HOSTS loses www.meatscentral.com, a name the site serves",
        apply:
          "sed -i 's/^ALLOWED_HOSTS=.*/ALLOWED_HOSTS=localhost,127.0.0.1,meatscentral.com/' /etc/projectmeats/projectmeats.env && systemctl restart projectmeats",
        undo:
          "sed -i 's/^ALLOWED_HOSTS=.*/ALLOWED_HOSTS=localhost,127.0.0.1,meatscentral.com,www.meatscentral.com/' /etc/projectmeats/projectmeats.env && " +
          "systemctl restart projectmeats",
        red: ["HTTP-009"],
      },
    ],
  },
  {
    // PostgreSQL on another host (network namespace dbhost, 10.77.0.2): the local-server checks skip saying so,
    // the app's side is judged through its own connection.
    flavour: "remote-db",
    service: "projectmeats",
    site: "curl -fsS -o /dev/null -H 'Host: meatscentral.com' http://127.0.0.1/health/ && curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8000/api/v1/suppliers/ | grep -qx 403",
    kept: /Gunicorn's bind 127\.0\.0\.1:8000/,
    findings: [],
    redFindings: [],
    faults: [
      {
        name: "the database server down (connection refused)",
        apply: "systemctl stop postgresql@15-main",
        undo: "systemctl start postgresql@15-main",
        red: ["DB-001"],
      },
      {
        name: "the database password rotated on the server, not in the app",
        apply: `runuser -u postgres -- psql -XAtq -c "ALTER ROLE projectmeats_user PASSWORD 'rotated-elsewhere-0123456789'"`,
        undo:
          `pw=$(sed -n 's|^DATABASE_URL=postgres://projectmeats_user:\\([^@]*\\)@.*|\\1|p' /etc/projectmeats/projectmeats.env) && ` +
          `runuser -u postgres -- psql -XAtq -c "ALTER ROLE projectmeats_user PASSWORD '$pw'"`,
        red: ["DB-001"],
      },
    ],
  },
  {
    // HTTPS as certbot --nginx leaves it (a private CA's 90-day certificate; fixtures/flavours/tls.ts): nothing fails.
    flavour: "tls",
    service: "projectmeats",
    site:
      "curl -fsS -o /dev/null --cacert /etc/ddv/tls-ca.pem --resolve meatscentral.com:443:127.0.0.1 https://meatscentral.com/health/ && " +
      "curl -s -o /dev/null -w '%{http_code}' -H 'Host: meatscentral.com' http://127.0.0.1/health/ | grep -qx 301",
    kept: /Gunicorn's bind 127\.0\.0\.1:8000/,
    findings: [],
    redFindings: [],
    passes: ["HTTP-011", "HTTP-012"],
    faults: [
      {
        name: "the certificate expired (every https visitor gets a certificate error)",
        apply: `${tls.prelude}\ntls_cert -90 -1`,
        undo: `${tls.prelude}\ntls_cert 0 90`,
        red: ["HTTP-011"],
      },
    ],
  },
];

// One host per shape, the shapes side by side; on each host the steps run in order.
describeE2E("every deployment shape", () => {
  test.concurrent.each(SHAPES)("$flavour: healthy, faults, emergency-reset", { timeout: 900_000 }, async (shape) => {
    const host = `e2e-shape-${shape.flavour}`.slice(0, 31);
    const up = await hostCli(["up", "--flavour", shape.flavour, "--name", host]);
    expect(up.exitCode, up.stderr).toBe(0);
    try {
      await healthyAndFaults(host, shape);
      await resets(host, shape);
    } finally {
      await hostCli(["down", host]);
    }
  });
});

// Healthy: the gate is green; the full run fails only the shape's own findings, red only for high ones. Each fault
// turns the gate red naming it, and undone, the gate is green again.
async function healthyAndFaults(host: string, shape: Shape) {
  const env = (await loadFlavour(shape.flavour)).runWith;
  const gate = await validateInside(host, ["specs/smoke"], `shape-${shape.flavour}-smoke`, env);
  expect(idsWith(gate.results, "fail"), gate.output).toEqual([]);
  expect(idsWith(gate.results, "error"), gate.output).toEqual([]);
  expect(gate.exitCode, gate.output).toBe(0);
  const full = await validateInside(host, [], `shape-${shape.flavour}-full`, env);
  const failed = full.results.filter((r) => r.status === "fail");
  expect(idsWith(full.results, "error"), full.output).toEqual([]);
  expect(failed.map((r) => r.id).sort(), failed.map((r) => `${r.id}: ${r.observed}`).join("\n")).toEqual(shape.findings);
  expect(full.exitCode, full.output).toBe(shape.redFindings.length ? 1 : 0);
  for (const id of shape.passes ?? []) expect(full.results.find((r) => r.id === id)?.status, `${id} on ${shape.flavour}`).toBe("pass");

  for (const f of shape.faults) {
    expect((await shInside(host, f.apply)).exitCode, f.name).toBe(0);
    const broken = await validateInside(host, ["specs/smoke"], `shape-${shape.flavour}-${f.red.join("-")}`, env);
    const red = [...idsWith(broken.results, "fail"), ...idsWith(broken.results, "error")];
    expect(broken.exitCode, `${f.name}\n${broken.output}`).toBe(1);
    for (const id of f.red) expect(red, `${f.name}: ${id} red\n${broken.output}`).toContain(id);
    expect((await shInside(host, f.undo)).exitCode, `undo: ${f.name}`).toBe(0);
  }
  const again = await validateInside(host, ["specs/smoke"], `shape-${shape.flavour}-again`, env);
  expect(again.exitCode, again.output).toBe(0);
}

// emergency-reset on the healthy host, then with the unit file deleted: the site answers through nginx both times,
// and the playbook kept the shape (socket activation, the bind nginx proxies to, the unit's user).
async function resets(host: string, shape: Shape) {
  const runWith = (await loadFlavour(shape.flavour)).runWith;
  const env = Object.entries(runWith)
    .map(([k, v]) => `${k}=${v} `)
    .join("");
  const unit = `/etc/systemd/system/${shape.service}.service`;
  const socket = /socket activation/.test(shape.kept.source) ? `/etc/systemd/system/${shape.service}.socket` : undefined;
  const before = (await shInside(host, `grep -E '^(User|Group|Requires|EnvironmentFile)=|--bind' ${unit}`)).stdout;
  for (const [label, breakIt] of [
    ["healthy", ":"],
    // Mangled: ExecStart names a program that is not there (a botched edit); systemd fails every start (203/EXEC).
    ["unit mangled", `sed -i 's#/bin/gunicorn #/bin/gunicorn-gone #' ${unit} && systemctl daemon-reload && { systemctl restart ${shape.service} || :; }`],
    ["unit deleted", `systemctl stop ${shape.service}.service; rm ${unit}; systemctl daemon-reload`],
    // A socket deployment's socket unit is reset too: listening elsewhere than nginx proxies and shutting nginx's worker
    // out, then gone altogether.
    ...(socket
      ? ([
          [
            "socket mangled",
            `sed -i '/^SocketMode=/d; s#^ListenStream=.*#ListenStream=/run/elsewhere.sock#; /^\\[Socket\\]/a SocketMode=0600' ${socket} && ` +
              `systemctl daemon-reload && systemctl restart ${shape.service}.socket`,
          ],
          ["socket deleted", `systemctl stop ${shape.service}.socket ${shape.service}.service; rm ${socket}; systemctl daemon-reload`],
        ] as const)
      : []),
  ] as const) {
    const r = await shInside(host, `${breakIt} && cd '${REPO_ROOT}' && ${env}npx tsx remediate emergency-reset --yes`);
    expect(r.exitCode, `${label}\n${r.stdout}\n${r.stderr}`).toBe(0);
    // A deleted unit leaves only the project and the socket unit to learn from: a TCP bind or the ASGI worker is not
    // among them (the config's bind is used).
    if (label !== "unit deleted" || socket) expect(r.stdout, label).toMatch(shape.kept);
    // Only a broken socket unit is rewritten, and the plan says why.
    expect(/write \/etc\/systemd\/system\/\S+\.socket/.test(r.stdout), `${label}\n${r.stdout}`).toBe(label.startsWith("socket"));
    expect((await shInside(host, shape.site)).exitCode, `${label}: the site through nginx`).toBe(0);
    const gate = await validateInside(host, ["specs/smoke"], `shape-${shape.flavour}-reset-${label.replace(/ /g, "-")}`, runWith);
    expect(gate.exitCode, `${label}\n${gate.output}`).toBe(0);
  }
  // What the deployment is survives both resets (the deleted unit's shape comes back from its socket and the project).
  const after = (await shInside(host, `grep -E '^(User|Group|Requires|EnvironmentFile)=|--bind' ${unit}`)).stdout;
  const shapeOf = (text: string) => ({
    user: text.match(/^User=(.*)$/m)?.[1],
    requires: text.match(/^Requires=(.*)$/m)?.[1],
    bind: text.match(/--bind (\S+)/)?.[1],
  });
  expect(shapeOf(after), after).toEqual(shapeOf(before));
}
