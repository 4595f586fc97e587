import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { parseDiscoverArgs } from "../../src/discover/args.ts";
import { appServer, chooseCandidate, parseUnitList, surveyUnits } from "../../src/discover/candidates.ts";
import {
  allowedHost,
  apiPathFrom,
  hostHeaderFrom,
  logDirFrom,
  nginxUrlFrom,
  otherServerUrl,
  projectDirFrom,
  settingsDefaultIn,
  staticPathFrom,
  venvDirFrom,
} from "../../src/discover/derive.ts";
import { DISCOVER_EXIT, DiscoverError } from "../../src/discover/errors.ts";
import { minimalConfig } from "../../src/discover/minimal.ts";
import { configText, writeConfig } from "../../src/discover/output.ts";
import { runDiscover } from "../../src/discover/run.ts";
import { parseEndpoint } from "../../src/probes/endpoint.ts";
import { expandIncludes, reachesEndpoint, serverBlocks, splitDump } from "../../src/probes/nginx-sites.ts";
import { parseShow } from "../../src/probes/systemctl-show.ts";
import { recorded } from "./replay.ts";

// The refusal a call throws, as [exit code, message].
function refusal(fn: () => unknown): [number, string] {
  try {
    fn();
  } catch (err) {
    if (err instanceof DiscoverError) return [err.exitCode, err.message];
    throw err;
  }
  throw new Error("no refusal");
}

describe("candidates from one recorded `systemctl show`", () => {
  const survey = surveyUnits(parseShow(recorded("systemctl-show-discover.txt")));

  test("Django app servers are candidates, each with the socket that starts it; runserver and non-Django apps are not", () => {
    expect(survey.candidates.map((c) => [c.unit, c.server, c.target, c.socket, c.live])).toEqual([
      ["gunicorn.service", "gunicorn", "myproject.wsgi:application", "gunicorn.socket", true],
      ["projectmeats.service", "gunicorn", "projectmeats.wsgi:application", undefined, false],
    ]);
    expect(survey.devServers).toEqual(["devsite.service"]);
    expect(survey.others).toEqual(["flask.service (gunicorn app:app)"]);
  });

  test("the only live candidate wins over a disabled, stopped leftover; --service picks either", () => {
    expect(chooseCandidate(survey).unit).toBe("gunicorn.service");
    expect(chooseCandidate(survey, "projectmeats").unit).toBe("projectmeats.service");
    expect(chooseCandidate(survey, "gunicorn.service").unit).toBe("gunicorn.service");
  });

  test("two live candidates without --service, an unknown --service, and none at all: one line and its own code", () => {
    const both = { ...survey, candidates: survey.candidates.map((c) => ({ ...c, live: true })) };
    expect(refusal(() => chooseCandidate(both))).toEqual([
      DISCOVER_EXIT.usage,
      "2 Django services run on this host (gunicorn, projectmeats): name one with --service NAME",
    ]);
    expect(refusal(() => chooseCandidate(survey, "shop"))[0]).toBe(DISCOVER_EXIT.usage);
    const [code, message] = refusal(() => chooseCandidate({ ...survey, candidates: [] }));
    expect(code).toBe(DISCOVER_EXIT.notFound);
    expect(message).toMatch(/^no Django service found: .*devsite\.service run manage\.py runserver.*not Django: flask\.service/);
    expect(message).not.toContain("\n");
  });

  test("app servers by program or python -m, with their module:callable target", () => {
    expect(appServer(["/v/bin/python3", "-m", "uvicorn", "--uds", "/run/a.sock", "site.asgi:application"])).toEqual({
      server: "uvicorn",
      target: "site.asgi:application",
    });
    expect(appServer(["/usr/bin/daphne", "-b", "127.0.0.1", "-p", "8001", "config.asgi:application"])).toMatchObject({ server: "daphne" });
    expect(appServer(["/usr/bin/uwsgi", "--http-socket", ":8000", "--module=mysite.wsgi:application"])).toEqual({
      server: "uwsgi",
      target: "mysite.wsgi:application",
    });
    expect(appServer(["/usr/bin/python3", "manage.py", "runserver"])).toBe("runserver");
    expect(appServer(["/usr/sbin/nginx", "-g", "daemon", "on;"])).toBeUndefined();
  });

  test("unit lists: first column, bullets and templates dropped", () => {
    expect(parseUnitList("● gunicorn.service loaded failed failed x\nnginx.service enabled enabled\ngetty@.service enabled\nfoo.timer x")).toEqual([
      "gunicorn.service",
      "nginx.service",
    ]);
  });
});

describe("each field from what the host says", () => {
  test("projectDir: the working directory, or its parent when it is ProjectMeats' backend/", () => {
    expect(projectDirFrom("/home/sammy/myprojectdir")).toBe("/home/sammy/myprojectdir");
    expect(projectDirFrom("/opt/projectmeats/backend")).toBe("/opt/projectmeats");
  });

  test("venvDir: the prefix of ExecStart's bin/ program, none for a system-wide install", () => {
    expect(venvDirFrom("/home/sammy/myprojectdir/myprojectenv/bin/gunicorn")).toBe("/home/sammy/myprojectdir/myprojectenv");
    expect(venvDirFrom("/opt/app/venv/bin/python3")).toBe("/opt/app/venv");
    expect(venvDirFrom("/usr/bin/gunicorn")).toBeUndefined();
  });

  test("settingsModule: manage.py's setdefault, either quote", () => {
    expect(settingsDefaultIn("    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'myproject.settings')\n")).toBe("myproject.settings");
    expect(settingsDefaultIn('os.environ.setdefault(\n  "DJANGO_SETTINGS_MODULE", "config.settings.prod")')).toBe("config.settings.prod");
    expect(settingsDefaultIn("import os")).toBeUndefined();
  });

  // The server block proxying to the app's bind in recorded `nginx -T` output of each flavour.
  const blockOf = (file: string, bind: string) => {
    const files = splitDump(recorded(file));
    const servers = serverBlocks(expandIncludes(files, files.keys().next().value as string));
    return servers.find((s) => s.targets.some((t) => reachesEndpoint(t, parseEndpoint(bind, "test"))));
  };

  test("hostHeader: localhost while the block serves it and Django accepts it, else the block's accepted name", () => {
    const tutorial = blockOf("nginx-T-tutorial.txt", "unix:/run/gunicorn.sock");
    expect(hostHeaderFrom(tutorial, ["tutorial.example", "localhost"], "localhost").value).toBe("tutorial.example");
    const reference = blockOf("nginx-T-reference.txt", "http://127.0.0.1:8000");
    expect(hostHeaderFrom(reference, ["meatscentral.com", "localhost"], "localhost").value).toBe("localhost");
    const pmSocket = blockOf("nginx-T-pm-socket.txt", "unix:/run/projectmeats.sock");
    expect(hostHeaderFrom(pmSocket, ["localhost", "127.0.0.1", "www.meatscentral.com"], "localhost").value).toBe("www.meatscentral.com");
    // No nginx: localhost when Django takes it, else its first literal name.
    expect(hostHeaderFrom(undefined, ["*"], "localhost").value).toBe("localhost");
    expect(hostHeaderFrom(undefined, [".example.org", "api.example.org"], "localhost").value).toBe("api.example.org");
    expect(nginxUrlFrom(tutorial?.listens ?? [])).toBe("http://127.0.0.1");
    // A certbot site (recorded on the tls flavour): the block reaching the app listens on 443 ssl, its port-80 twin only
    // redirects; the checks go over https with a name the certificate holds (not localhost, which Django also accepts).
    const tls = blockOf("nginx-T-tls.txt", "http://127.0.0.1:8000");
    expect(tls?.listens).toEqual([{ port: 443, defaultServer: true, ssl: true }]);
    expect(nginxUrlFrom(tls?.listens ?? [])).toBe("https://127.0.0.1");
    expect(hostHeaderFrom(tls, ["meatscentral.com", "localhost"], "localhost", true).value).toBe("meatscentral.com");
    expect(nginxUrlFrom([{ port: 8443, address: "10.0.0.5", defaultServer: false, ssl: true }])).toBe("https://10.0.0.5:8443");
  });

  test("ALLOWED_HOSTS matching as Django does it", () => {
    expect(allowedHost([".example.com"], "www.example.com")).toBe(true);
    expect(allowedHost([".example.com"], "example.com")).toBe(true);
    expect(allowedHost(["example.com"], "www.example.com")).toBe(false);
    expect(allowedHost(["*"], "anything")).toBe(true);
  });

  test("nginxUrl, logDir, staticPath, apiPath and a Daphne/uWSGI bind", () => {
    expect(nginxUrlFrom([{ port: 8080, address: "127.0.0.1", defaultServer: false }])).toBe("http://127.0.0.1:8080");
    expect(nginxUrlFrom([{ unix: "/run/n.sock", defaultServer: false }])).toBeUndefined();
    expect(logDirFrom({ errorlog: "-", accesslog: "-" })).toBeNull();
    expect(logDirFrom({ errorlog: "/var/log/app/error.log", accesslog: null })).toBe("/var/log/app");
    expect(staticPathFrom("/static/", "admin/css/base.css")).toBe("/static/admin/css/base.css");
    expect(staticPathFrom("https://cdn.example/s/", "admin/css/base.css")).toBeUndefined();
    expect(apiPathFrom(404, "/api/v1/suppliers/").value).toBeNull();
    expect(apiPathFrom(403, "/api/v1/suppliers/").value).toBe("/api/v1/suppliers/");
    expect(apiPathFrom(400, "/api/v1/suppliers/").value).toBe("/api/v1/suppliers/");
    expect(otherServerUrl("daphne", ["daphne", "-b", "0.0.0.0", "-p", "8001", "x.asgi:application"])).toBe("http://127.0.0.1:8001");
    expect(otherServerUrl("daphne", ["daphne", "-u", "/run/d.sock", "x.asgi:application"])).toBe("unix:/run/d.sock");
    expect(otherServerUrl("uwsgi", ["uwsgi", "--http-socket", ":8000"])).toBe("http://127.0.0.1:8000");
    expect(otherServerUrl("uwsgi", ["uwsgi", "--socket", "/run/u.sock"])).toBeUndefined();
  });
});

describe("the written config", () => {
  test("only what differs from the defaults, in the schema's order; nested fields nest", () => {
    const config = minimalConfig([
      { field: "hostHeader", value: "tutorial.example", source: "" },
      { field: "service", value: "gunicorn", source: "" },
      { field: "projectDir", value: "/opt/projectmeats", source: "" },
      { field: "nginxUrl", value: null, source: "" },
      { field: "dependencies.nginx", value: null, source: "" },
      { field: "envFiles", value: ["/etc/projectmeats/projectmeats.env"], source: "" },
      { field: "apiPath", value: null, source: "" },
    ]);
    expect(Object.keys(config)).toEqual(["service", "nginxUrl", "hostHeader", "apiPath", "dependencies"]);
    expect(config.dependencies).toEqual({ nginx: null });
    expect(minimalConfig([{ field: "service", value: "projectmeats", source: "" }])).toEqual({});
  });

  test("a value the validator would refuse is never written", () => {
    expect(() => minimalConfig([{ field: "projectDir", value: "relative/dir", source: "" }])).toThrow(/absolute/);
  });

  test("an existing file is not replaced without --force: the diff is shown, the file kept", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "ddv-discover-"));
    const file = path.join(dir, "deploy.config.json");
    writeFileSync(file, configText({ service: "shop" }));
    const [code, message] = refusal(() => writeConfig(file, configText({ service: "gunicorn" }), false));
    expect(code).toBe(DISCOVER_EXIT.exists);
    expect(message.split("\n")[0]).toBe(`${file} exists and differs (use --force to replace it):`);
    expect(message).toContain('-  "service": "shop"');
    expect(message).toContain('+  "service": "gunicorn"');
    expect(readFileSync(file, "utf8")).toBe(configText({ service: "shop" }));
    expect(writeConfig(file, configText({ service: "shop" }), false)).toBe("unchanged");
    expect(writeConfig(file, configText({ service: "gunicorn" }), true)).toBe("written");
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ service: "gunicorn" });
  });
});

describe("the command line", () => {
  test("flags, and the default output in the repository root", () => {
    expect(parseDiscoverArgs([], "/repo")).toEqual({ force: false, dryRun: false, output: "/repo/deploy.config.json" });
    expect(parseDiscoverArgs(["--service", "gunicorn", "--force", "--output=/tmp/x.json", "--dry-run"], "/repo")).toEqual({
      service: "gunicorn",
      force: true,
      dryRun: true,
      output: "/tmp/x.json",
    });
    expect(refusal(() => parseDiscoverArgs(["--service"], "/repo"))[0]).toBe(DISCOVER_EXIT.usage);
    expect(refusal(() => parseDiscoverArgs(["--services", "x"], "/repo"))[0]).toBe(DISCOVER_EXIT.usage);
  });

  test("not root: one line, exit 77, nothing written", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "ddv-discover-"));
    const out: string[] = [];
    const err: string[] = [];
    const code = await runDiscover(["--output", path.join(dir, "c.json")], dir, { out: (s) => out.push(s), err: (s) => err.push(s), uid: () => 1000 });
    expect(code).toBe(DISCOVER_EXIT.notRoot);
    expect(err.join("")).toMatch(/^discover: discover must run as root: [^\n]*\n$/);
    expect(out).toEqual([]);
    expect(existsSync(path.join(dir, "c.json"))).toBe(false);
  });
});
