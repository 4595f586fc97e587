import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/load.ts";

const dir = mkdtempSync(path.join(tmpdir(), "ddv-config-"));
const write = (name: string, text: string) => {
  writeFileSync(path.join(dir, name), text);
  return path.join(dir, name);
};

describe("loadConfig", () => {
  test("zero configuration describes a ProjectMeats server", () => {
    const c = loadConfig({}, dir);
    expect(c).toMatchObject({ service: "projectmeats", nginxUrl: "http://127.0.0.1", hostHeader: "localhost" });
    // Unset: where Gunicorn answers is read from the host (the socket unit, then Gunicorn's bind).
    expect(c.gunicornUrl).toBeUndefined();
    expect(loadConfig({ DEPLOY_GUNICORN_URL: "unix:/run/gunicorn.sock" }, dir).gunicornUrl).toBe("unix:/run/gunicorn.sock");
    expect(c.thresholds.securityExposure).toBe(5);
  });

  test("deploy.config.json in the working directory is read, and env vars override it", () => {
    const d = mkdtempSync(path.join(tmpdir(), "ddv-config-"));
    writeFileSync(path.join(d, "deploy.config.json"), JSON.stringify({ service: "shop", nginxUrl: null }));
    expect(loadConfig({}, d)).toMatchObject({ service: "shop", nginxUrl: null });
    expect(loadConfig({ DEPLOY_SERVICE: "blog", DEPLOY_NGINX_URL: "http://10.0.0.5" }, d)).toMatchObject({ service: "blog", nginxUrl: "http://10.0.0.5" });
  });

  test("a bad field is named with a readable message", () => {
    const file = write("bad.json", JSON.stringify({ gunicornUrl: "ftp://x", projectDir: "relative", extra: 1 }));
    expect(() => loadConfig({ DEPLOY_CONFIG: file }, dir)).toThrow(ConfigError);
    try {
      loadConfig({ DEPLOY_CONFIG: file }, dir);
    } catch (err) {
      const msg = (err as Error).message;
      expect(msg).toContain(file);
      expect(msg).toContain("→ at gunicornUrl");
      expect(msg).toContain("must be an absolute path");
      expect(msg).toContain('Unrecognized key: "extra"');
    }
  });

  test.each([
    ["not JSON", "{ nope", /is not valid JSON/],
    ["an array", "[1]", /must hold a JSON object/],
  ])("a file that is %s is refused", (_what, text, re) => {
    expect(() => loadConfig({ DEPLOY_CONFIG: write(`x${Math.random()}.json`, text) }, dir)).toThrow(re);
  });

  test("a bad DEPLOY_* value is blamed on the variable, with its value and its problem, never on a config file", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "ddv-cfg-env-"));
    const message = (env: Record<string, string>, at = dir) => {
      try {
        loadConfig(env, at);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error("accepted");
    };
    // No deploy.config.json here: the message must not name one.
    const url = message({ DEPLOY_GUNICORN_URL: "ftp://x" });
    expect(url).toBe(
      'DEPLOY_GUNICORN_URL="ftp://x" is not usable: must be an http URL such as http://127.0.0.1:8000, or a unix socket such as unix:/run/gunicorn.sock',
    );
    expect(message({ DEPLOY_SERVICE: "my app" })).toBe('DEPLOY_SERVICE="my app" is not usable: must be a systemd unit name without spaces');
    expect(message({ DEPLOY_PROJECT_DIR: "srv/app", DEPLOY_NGINX_URL: "nginx" }).split("\n")).toEqual([
      'DEPLOY_PROJECT_DIR="srv/app" is not usable: must be an absolute path',
      expect.stringMatching(/^DEPLOY_NGINX_URL="nginx" is not usable: must be an http\(s\) URL/),
    ]);
    // A file's own bad value names the file; a variable's names only the variable, even when both are wrong.
    const file = write("mixed.json", JSON.stringify({ projectDir: "relative" }));
    const both = message({ DEPLOY_CONFIG: file, DEPLOY_GUNICORN_URL: "8000" });
    expect(both).toMatch(/^DEPLOY_GUNICORN_URL="8000" is not usable: must be an http URL/);
    expect(both).toContain(`invalid configuration in ${file}:\n✖ must be an absolute path\n  → at projectDir`);
    expect(both).not.toMatch(/gunicornUrl/);
    expect(message({ DEPLOY_CONFIG: file, DEPLOY_PROJECT_DIR: "/srv/app", DEPLOY_HOST_HEADER: "" })).toMatch(
      /^DEPLOY_HOST_HEADER="" is not usable: Too small: expected string to have >=1 characters$/,
    );
  });

  test("DEPLOY_CONFIG set but empty (or blank) is said in one line; a directory too", () => {
    for (const v of ["", "  "]) expect(() => loadConfig({ DEPLOY_CONFIG: v }, dir)).toThrow(/^DEPLOY_CONFIG is set but empty: name a config file, or unset it/);
    expect(() => loadConfig({ DEPLOY_CONFIG: dir }, dir)).toThrow(/is a directory: name a JSON file/);
  });

  test("a DEPLOY_CONFIG that does not exist is an error, not silently the defaults", () => {
    expect(() => loadConfig({ DEPLOY_CONFIG: "/nonexistent/deploy.json" }, dir)).toThrow(/does not exist/);
  });
  test("secrets: defaults name SECRET_KEY and *_PASSWORD/_SECRET/_TOKEN/_KEY, 8 characters; a bad name is refused", () => {
    const c = loadConfig({}, dir);
    expect(c.secrets.names).toContain("SECRET_KEY");
    expect(c.secrets.suffixes).toEqual(expect.arrayContaining(["_PASSWORD", "_SECRET", "_TOKEN", "_KEY"]));
    expect(c.secrets.minLength).toBe(8);
    const own = write("secrets.json", JSON.stringify({ secrets: { names: ["SHOP_API"], minLength: 12 } }));
    expect(loadConfig({ DEPLOY_CONFIG: own }, dir).secrets).toMatchObject({ names: ["SHOP_API"], minLength: 12, suffixes: c.secrets.suffixes });
    const bad = write("secrets-bad.json", JSON.stringify({ secrets: { names: ["NOT A NAME"], minLength: 0 } }));
    expect(() => loadConfig({ DEPLOY_CONFIG: bad }, dir)).toThrow(
      /secrets\.names\[0\][\s\S]*must be an environment variable name|must be an environment variable name/,
    );
  });
});
