import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseEnvFile } from "../../src/probes/environment.ts";
import { KEY_ALPHABET, findAssignments, generateSecretKey, hostAllowed, setEnvValue, weakSecretKey } from "../../src/remediation/fixes/env-edit.ts";

const edited = (text: string, key: string, value: string) => {
  const r = setEnvValue(text, key, value);
  if ("why" in r) throw new Error(r.why);
  return r.text;
};

describe("setEnvValue", () => {
  const file = "# ProjectMeats\nDEBUG=True\n\nSECRET_KEY='abc'\n; a comment\nALLOWED_HOSTS=*\nLOG_LEVEL=INFO\n";

  it("rewrites only the one line, keeping every other byte", () => {
    expect(edited(file, "DEBUG", "False")).toBe(file.replace("DEBUG=True", "DEBUG=False"));
    expect(edited(file, "ALLOWED_HOSTS", "localhost,127.0.0.1")).toBe(file.replace("ALLOWED_HOSTS=*", "ALLOWED_HOSTS=localhost,127.0.0.1"));
  });

  it("keeps the quote style and indentation of the line", () => {
    expect(edited(file, "SECRET_KEY", `${"x".repeat(3)}Yz9`)).toBe(file.replace("SECRET_KEY='abc'", "SECRET_KEY='xxxYz9'"));
    expect(edited('  DEBUG = "1"\n', "DEBUG", "False")).toBe('  DEBUG = "False"\n');
  });

  it("edits the assignment that wins (the last), not an earlier duplicate", () => {
    const t = "DEBUG=False\nA=1\nDEBUG=True\n";
    expect(edited(t, "DEBUG", "False")).toBe("DEBUG=False\nA=1\nDEBUG=False\n");
  });

  it("replaces a multi-line quoted value whole, and never a line inside one", () => {
    const t = 'NOTE="first\nDEBUG=True is text here\n"\nDEBUG=True\nB=2\n';
    expect(findAssignments(t, "DEBUG")).toEqual([[3, 3]]);
    const k = 'SECRET_KEY="multi\nline"\nB=2\n';
    expect(findAssignments(k, "SECRET_KEY")).toEqual([[0, 1]]);
    expect(edited(k, "SECRET_KEY", "new")).toBe('SECRET_KEY="new"\nB=2\n');
    expect(edited("K=a\\\nb\nC=3\n", "K", "z")).toBe("K=z\nC=3\n");
  });

  it("appends the line when nothing sets it (after a missing final newline), and leaves it when already so", () => {
    expect(edited("A=1", "DEBUG", "False")).toBe("A=1\nDEBUG=False\n");
    expect(edited("", "DEBUG", "False")).toBe("DEBUG=False\n");
    expect(setEnvValue("DEBUG=False\n", "DEBUG", "False")).toEqual({ text: "DEBUG=False\n", changed: false });
  });

  it("does not take a line swallowed by a comment ending in a backslash (systemd 252) for an assignment", () => {
    const t = "# old \\\nDEBUG=True\nA=1\n";
    expect(parseEnvFile(t).DEBUG).toBeUndefined();
    expect(findAssignments(t, "DEBUG")).toEqual([]);
    expect(edited(t, "DEBUG", "False")).toBe(`${t}DEBUG=False\n`);
  });

  it("keeps CRLF line ends", () => {
    expect(edited("A=1\r\nDEBUG=True\r\nB=2\r\n", "DEBUG", "False")).toBe("A=1\r\nDEBUG=False\r\nB=2\r\n");
  });

  it("refuses what it cannot edit safely", () => {
    expect(setEnvValue('A="open\n', "DEBUG", "False")).toHaveProperty("why");
    expect(setEnvValue("A=1\n", "X", "has space")).toHaveProperty("why");
    expect(setEnvValue("A=1\n", "X", "$HOME")).toHaveProperty("why");
  });
});

describe("generateSecretKey", () => {
  it("draws 64 characters from the safe alphabet and is never weak by SEC-002's rules", () => {
    for (let i = 0; i < 200; i++) {
      const k = generateSecretKey();
      expect(k).toHaveLength(64);
      expect([...k].every((c) => KEY_ALPHABET.includes(c))).toBe(true);
      expect(weakSecretKey(k)).toBeUndefined();
    }
    expect(KEY_ALPHABET).not.toMatch(/['"$%\\#\s`~!*?{}()<>;&|]/);
  });

  it("survives systemd's parser and a POSIX shell, unquoted and single-quoted", () => {
    const dir = mkdtempSync(join(tmpdir(), "ddv-key-"));
    for (let i = 0; i < 20; i++) {
      const k = generateSecretKey();
      for (const line of [`SECRET_KEY=${k}`, `SECRET_KEY='${k}'`]) {
        const text = edited(`A=1\n${line.replace(k, "old")}\nB=2\n`, "SECRET_KEY", k);
        expect(parseEnvFile(text)).toEqual({ A: "1", SECRET_KEY: k, B: "2" });
        const f = join(dir, "env");
        writeFileSync(f, text);
        expect(execFileSync("sh", ["-c", '. "$1"; printf %s "$SECRET_KEY"', "sh", f], { encoding: "utf8" })).toBe(k);
      }
    }
    // Every character of the alphabet at once, also through bash.
    const f = join(dir, "all");
    writeFileSync(f, `SECRET_KEY=${KEY_ALPHABET}\n`);
    expect(parseEnvFile(`SECRET_KEY=${KEY_ALPHABET}\n`).SECRET_KEY).toBe(KEY_ALPHABET);
    expect(execFileSync("bash", ["-c", '. "$1"; printf %s "$SECRET_KEY"', "bash", f], { encoding: "utf8" })).toBe(KEY_ALPHABET);
  });
});

describe("weakSecretKey and hostAllowed", () => {
  it("name what SEC-002 rejects", () => {
    expect(weakSecretKey(undefined)).toBe("missing or empty");
    expect(weakSecretKey("your-super-secret-production-key-change-this-immediately-50-chars-minimum")).toMatch(/placeholder/);
    expect(weakSecretKey("a1b2c3d4e5")).toMatch(/10 characters/);
    expect(weakSecretKey("ab".repeat(30))).toMatch(/2 distinct/);
  });
  it("match hosts as Django's validate_host does", () => {
    expect(hostAllowed("LOCALHOST", "localhost")).toBe(true);
    expect(hostAllowed(".example.com", "example.com")).toBe(true);
    expect(hostAllowed(".example.com", "www.example.com")).toBe(true);
    expect(hostAllowed("example.com", "www.example.com")).toBe(false);
  });
});
