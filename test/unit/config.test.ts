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
    expect(c).toMatchObject({ service: "projectmeats", gunicornUrl: "http://127.0.0.1:8000", nginxUrl: "http://127.0.0.1", hostHeader: "localhost" });
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

  test("a DEPLOY_CONFIG that does not exist is an error, not silently the defaults", () => {
    expect(() => loadConfig({ DEPLOY_CONFIG: "/nonexistent/deploy.json" }, dir)).toThrow(/does not exist/);
  });
});
