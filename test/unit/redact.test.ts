import { describe, expect, test } from "vitest";
import { ConfigSchema } from "../../src/config/schema.ts";
import { isSecretName, learnFromEnv, redact, secretValues, tooShortSecrets, urlPassword } from "../../src/probes/redact.ts";
import { learnSecrets, secretFacts, shortSecrets } from "../../src/probes/secrets.ts";
import { healthyCommands } from "./healthy-replay.ts";
import { recorded, replayContext, replayTransport } from "./replay.ts";

// Every encoding a secret can take on its way into a report.
const encodings: Record<string, (s: string) => string> = {
  raw: (s) => s,
  encodeURIComponent,
  "form (+ for space)": (s) => encodeURIComponent(s).replace(/%20/g, "+"),
  URLSearchParams: (s) => new URLSearchParams({ x: s }).toString().slice(2),
  "lower-case percent hex": (s) => encodeURIComponent(s).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
  "JSON (no quotes)": (s) => JSON.stringify(s).slice(1, -1),
  "JSON, ASCII only (Python json.dumps)": (s) =>
    JSON.stringify(s)
      .slice(1, -1)
      .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`),
  "HTML (Django: &quot; &#x27;)": (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#x27;"),
  "HTML (markupsafe: &#34; &#39;)": (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&#34;").replace(/'/g, "&#39;"),
};

// Secrets of odd shapes: $, %, quotes, backslashes, unicode, &, <, spaces.
const odd = ["pa$$w0rd$1", "50%off%zz%41", `q"u'o"te's!`, "back\\slash\\\\x", "ünï©ødé-κλειδί-😀", "a&b<c>d&amp;", "two words here", "/slash+plus=eq?"];

describe("redaction masks every encoding of a secret", () => {
  test.each(odd.flatMap((s) => Object.keys(encodings).map((e) => [e, s] as const)))("%s of %j", (enc, secret) => {
    const shown = (encodings[enc] as (s: string) => string)(secret);
    const out = redact(`before ${shown} after`, [secret]);
    expect(out).toBe("before [REDACTED] after");
  });

  test("text around a secret is untouched, including look-alikes", () => {
    expect(redact("p@ssw0rd-not p@ssw0rd p@ssw0r", ["p@ssw0rd"])).toBe("[REDACTED]-not [REDACTED] p@ssw0r");
    expect(redact("nothing here", ["p@ssw0rd"])).toBe("nothing here");
    expect(redact("x", [""])).toBe("x");
  });

  test("a secret inside a URL, in a JSON document and in an HTML page", () => {
    const pw = `p@ss w/"&'`;
    const url = `postgres://u:${encodeURIComponent(pw)}@h/db`;
    const doc = JSON.stringify({ url, pw });
    const html = `<input value="${pw.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/'/g, "&#39;")}">`;
    for (const text of [url, doc, html]) expect(redact(text, [pw])).not.toMatch(/ss w|ss%20w|ss\+w/);
  });
});

describe("learning secrets by name, never by guess", () => {
  test("default names and suffixes; PASSWORD_RESET_TIMEOUT and DEBUG are not secrets", () => {
    for (const n of [
      "SECRET_KEY",
      "DB_PASSWORD",
      "EMAIL_HOST_PASSWORD",
      "API_TOKEN",
      "STRIPE_SECRET",
      "AWS_SECRET_ACCESS_KEY",
      "PGPASSWORD",
      "db_password",
      "REDIS_PASS",
    ])
      expect(isSecretName(n), n).toBe(true);
    for (const n of ["PASSWORD_RESET_TIMEOUT", "DEBUG", "ALLOWED_HOSTS", "KEY_PREFIX", "TOKEN_TTL", "SECRET_KEY_FALLBACK_COUNT_", "_KEY"])
      expect(isSecretName(n), n).toBe(false);
    const env = { PASSWORD_RESET_TIMEOUT: "360000000", DEBUG: "False", SECRET_KEY: "k".repeat(50), TIME_ZONE: "Europe/Amsterdam" };
    expect(secretValues(env)).toEqual(["k".repeat(50)]);
  });

  test("the password of any URL-valued variable, raw and decoded", () => {
    const l = learnFromEnv({
      DATABASE_URL: "postgres://app:p%40ss%2Fw0rd@db/x",
      CACHE_URL: "redis://:cachepass99@h:6379/0",
      SENTRY: "https://abc@o1.ingest.sentry.io/1",
    });
    expect(l.values.sort()).toEqual(["cachepass99", "p%40ss%2Fw0rd", "p@ss/w0rd"].sort());
    expect(urlPassword("postgres://u:pa/ss@h/db")).toBe("pa/ss"); // raw "/" in the password
    expect(urlPassword("postgres://u:p@ss@word@h/db")).toBe("p@ss@word"); // userinfo ends at the last @
    expect(urlPassword("https://example.com/?to=a@b")).toBeUndefined();
    expect(urlPassword("not a url")).toBeUndefined();
  });

  test("a secret under 8 characters is not masked but named (never its value) in tooShort", () => {
    const env = { DB_PASSWORD: "abc", DATABASE_URL: "postgres://u:xyz@h/db", SECRET_KEY: "long-enough-key", EMPTY_TOKEN: "" };
    const l = learnFromEnv(env);
    expect(l.values).toEqual(["long-enough-key"]);
    expect(l.tooShort).toEqual(["DATABASE_URL", "DB_PASSWORD"]);
    expect(tooShortSecrets(env)).toEqual(["DATABASE_URL", "DB_PASSWORD"]);
    expect(JSON.stringify(l.tooShort)).not.toMatch(/abc|xyz/);
    expect(redact("abc is a word", l.values)).toBe("abc is a word"); // "abc" would shred normal text
  });

  test("the rules come from the config: names, suffixes and the minimum length", () => {
    const rules = ConfigSchema.parse({ secrets: { names: ["MY_API"], suffixes: ["_CRED"], minLength: 4 } }).secrets;
    expect(learnFromEnv({ MY_API: "abcd", X_CRED: "efgh", SECRET_KEY: "ijklmnop", Y_CRED: "abc" }, rules)).toEqual({
      values: ["abcd", "efgh"],
      tooShort: ["Y_CRED"],
    });
  });
});

describe("learnSecrets reads every environment the service has", () => {
  const show = recorded("systemctl-show-healthy.txt");
  const envFile = "SECRET_KEY=file-key-0123456789-abcdefghij\nDB_PASSWORD=abc\n";

  test("the running process and the unit's env files, both; short ones by name", async () => {
    const ctx = replayContext(
      replayTransport(healthyCommands(), {
        "/proc/70/stat": recorded("proc-stat-healthy.txt"),
        "/proc/70/environ": recorded("proc-environ-healthy.txt"),
        "/etc/projectmeats/projectmeats.env": envFile,
      }),
    );
    const values = await learnSecrets(ctx);
    expect(values).toEqual(
      expect.arrayContaining([
        "recorded-key-replaced-by-a-fake-one-of-the-same-shape-0123456789abc",
        "FakePassword0123456789abcdefghij",
        "file-key-0123456789-abcdefghij",
      ]),
    );
    expect(ctx.secrets).toBe(values);
    expect(await shortSecrets(ctx)).toEqual(["DB_PASSWORD"]);
    expect((await secretFacts(ctx)).sources[0]).toBe("the running process (PID 70)");
  });

  test("SEC-011 with no environment read at all (no systemd, no env file): an error, never 'every secret is long enough'", async () => {
    const { checkById } = await import("../../src/checks/index.ts");
    const ctx = replayContext(replayTransport({}, {}));
    await expect(checkById("SEC-011").run(ctx)).rejects.toThrow(/no variable of the service's environment could be read \(tried the configured env files/);
  });

  test("when systemd cannot be asked, the configured env files", async () => {
    const ctx = replayContext(replayTransport({}, { "/etc/projectmeats/projectmeats.env": envFile }));
    expect(await learnSecrets(ctx)).toEqual(["file-key-0123456789-abcdefghij"]);
  });

  test("the unit's own EnvironmentFile= paths, not the configured ones, when the unit names them", async () => {
    const moved = show.replace("EnvironmentFiles=/etc/projectmeats/projectmeats.env", "EnvironmentFiles=/srv/app/.env");
    const ctx = replayContext(replayTransport(healthyCommands(moved), { "/srv/app/.env": "API_TOKEN=tok-0123456789\n" }));
    expect(await learnSecrets(ctx)).toEqual(["tok-0123456789"]);
  });
});
