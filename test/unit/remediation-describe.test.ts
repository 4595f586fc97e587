import { describe, expect, test } from "vitest";
import { maskEnvText } from "../../src/remediation/describe.ts";
import { DEFAULT_SECRET_RULES } from "../../src/probes/redact.ts";

// What the plan printer shows of an env file: structure and non-secret values, never a secret value.

const KEY = "k3y-0ld-Xq9!vT2mZpL8sR4wYb7nC1dF";
const NEW_KEY = "n3w-K3y-aB8cD9eF0gH1iJ2kL3mN4oP5";
const PW = "db-Pa55w0rd-Long";
const before = [
  "# ProjectMeats",
  `SECRET_KEY=${KEY}`,
  "DEBUG=True",
  `DATABASE_URL=postgres://projectmeats_user:${PW}@localhost:5432/projectmeats_db`,
  `export DB_PASSWORD = ${PW}`,
  "ALLOWED_HOSTS=*",
  "",
].join("\n");

describe("maskEnvText", () => {
  test("masks secret-named values and every known secret, keeps the rest readable", () => {
    const out = maskEnvText(before, [PW], DEFAULT_SECRET_RULES);
    expect(out).not.toContain(KEY);
    expect(out).not.toContain(PW);
    expect(out).toContain("SECRET_KEY=<masked>");
    expect(out).toContain("export DB_PASSWORD = <masked>");
    expect(out).toContain("DATABASE_URL=postgres://projectmeats_user:[REDACTED]@localhost:5432/projectmeats_db");
    expect(out).toContain("DEBUG=True");
    expect(out).toContain("# ProjectMeats");
    expect(out.split("\n")).toHaveLength(before.split("\n").length);
  });

  test("the new side of a diff: unchanged secrets look the same as before, a changed one says so", () => {
    const after = before.replace(KEY, NEW_KEY).replace("DEBUG=True", "DEBUG=False");
    const old = maskEnvText(before, [PW, NEW_KEY], DEFAULT_SECRET_RULES);
    const now = maskEnvText(after, [PW, NEW_KEY], DEFAULT_SECRET_RULES, before);
    for (const s of [KEY, NEW_KEY, PW]) {
      expect(old).not.toContain(s);
      expect(now).not.toContain(s);
    }
    expect(now).toContain("SECRET_KEY=<masked, new value>");
    expect(now).toContain("export DB_PASSWORD = <masked>");
    // Only the lines that really changed differ between the two sides: what a diff then shows.
    const a = old.split("\n");
    const b = now.split("\n");
    const changed = a.map((l, i) => [l, b[i]]).filter(([x, y]) => x !== y);
    expect(changed).toEqual([
      ["SECRET_KEY=<masked>", "SECRET_KEY=<masked, new value>"],
      ["DEBUG=True", "DEBUG=False"],
    ]);
  });

  test("a secret added where there was none shows as new; one left as is does not", () => {
    const without = "DEBUG=False\n";
    expect(maskEnvText(`DEBUG=False\nSECRET_KEY=${NEW_KEY}\n`, [], DEFAULT_SECRET_RULES, without)).toBe("DEBUG=False\nSECRET_KEY=<masked, new value>\n");
    expect(maskEnvText(`SECRET_KEY=${KEY}\n`, [], DEFAULT_SECRET_RULES, `SECRET_KEY=${KEY}\n`)).toBe("SECRET_KEY=<masked>\n");
  });

  test("a known secret is redacted even under a name that does not look secret", () => {
    const out = maskEnvText(`NOTES=the key is ${KEY}\n`, [KEY], DEFAULT_SECRET_RULES);
    expect(out).toBe("NOTES=the key is [REDACTED]\n");
  });
});
