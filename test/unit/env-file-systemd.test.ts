import { describe, expect, test } from "vitest";
import { parseEnvFile } from "../../src/probes/environment.ts";
import { recorded } from "./replay.ts";

// What systemd 252 (Debian 12) passed to a process for two env files with every odd shape, recorded on a reference
// host with: systemd-run --wait --pipe -p EnvironmentFile=env-file-odd.env -p EnvironmentFile=env-file-odd-2.env
// /usr/bin/env -0 (and once without the files, for the variables systemd-run adds itself).
const fromSystemd = (name: string) =>
  Object.fromEntries(
    recorded(name)
      .split("\0")
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );

describe("env files parsed as systemd parses them", () => {
  const baseline = fromSystemd("env-file-baseline.systemd-env0");
  const withFiles = fromSystemd("env-file-odd.systemd-env0");
  const expected = Object.fromEntries(Object.entries(withFiles).filter(([k]) => !(k in baseline)));

  test("the recorded odd file yields exactly what systemd gave the process", () => {
    const parsed = { ...parseEnvFile(recorded("env-file-odd.env")), ...parseEnvFile(recorded("env-file-odd-2.env")) };
    expect(parsed).toEqual(expected);
  });

  test.each([
    ['quotes: single keeps backslashes, double unescapes only " \\ ` $', "SQ", 'single $HOME "dq" \\n no escapes \\'],
    ["double quotes keep a backslash before other characters", "DQ", 'double "quoted" \\ back $dollar `tick` \\n kept \\a kept'],
    ["adjacent quoted parts join", "MIXED", "abc"],
    ["quotes in the middle of an unquoted value are literal", "QUOTE_MID", "a\"b\"c 'd'"],
    ["whitespace around = and trailing whitespace go", "SPACED", "around equals"],
    ["a trailing backslash continues the line", "CONT", "first second"],
    ["a newline inside single quotes stays", "CONT_SQ", "multi\nline"],
    ["# after the value is not a comment", "HASH", "value # not a comment"],
    ["CR of a CRLF line ends the line", "CRLF", "crlf"],
    ["a later file overrides an earlier one", "DUP", "from the second file"],
    ["an unterminated quote runs to the end of the file", "UNTERMINATED", "runs to the end\nof the file"],
  ])("%s", (_what, key, value) => {
    expect(expected[key]).toBe(value); // the recording says so...
    const parsed = { ...parseEnvFile(recorded("env-file-odd.env")), ...parseEnvFile(recorded("env-file-odd-2.env")) };
    expect(parsed[key]).toBe(value); // ...and so do we
  });

  test("systemd ignores `export NAME=`, invalid names, lines without = and a comment's backslash-continued line", () => {
    const parsed = parseEnvFile(recorded("env-file-odd.env"));
    for (const gone of ["EXPORTED", "EXPORTED_TAB", "export EXPORTED", "1BAD", "BAD-DASH", "DOT.NAME", "NOEQ", "AFTER_COMMENT_CONTINUATION"]) {
      expect(gone in expected, gone).toBe(false);
      expect(gone in parsed, gone).toBe(false);
    }
  });

  test("small shapes", () => {
    expect(parseEnvFile("# c\n; c\nA=1\r\nB = 2 \n  C='x y'  \nexport D=4\nE=\"a\\\nb\"\nF=x\\\n")).toEqual({ A: "1", B: "2", C: "x y", E: "ab", F: "x" });
    expect(parseEnvFile("")).toEqual({});
    expect(parseEnvFile("A=1\nA=2")).toEqual({ A: "2" });
  });
});
