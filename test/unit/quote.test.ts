import { execFileSync } from "node:child_process";
import { expect, test } from "vitest";
import { quoteArg, quoteArgv } from "../../src/transport/quote.ts";

// What a real POSIX shell (dash, as sshd's login shell on Debian) makes of the quoted line: NUL-separated argv.
const throughShell = (argv: string[]) => execFileSync("/bin/sh", ["-c", `printf '%s\\0' ${quoteArgv(argv)}`]).toString("utf8").split("\0").slice(0, -1);

const NASTY = ["plain", "with space", "it's", `"double"`, "$HOME", "$(id)", "`id`", "a;b", "a&&b", "a|b", "x > y", "*", "~", "tab\there", "new\nline", "back\\slash", "é ü ß", "", "-n", "'", "''", "!event", "#comment", "{a,b}", "[x]", "a=b c"];

test("every argument comes back from a real shell exactly as given", () => {
  expect(throughShell(NASTY)).toEqual(NASTY);
  for (const a of NASTY) expect(throughShell([a])).toEqual([a]);
});

test("safe words stay bare; everything else is single-quoted", () => {
  expect(quoteArg("/etc/projectmeats/projectmeats.env")).toBe("/etc/projectmeats/projectmeats.env");
  expect(quoteArg("it's")).toBe(`'it'"'"'s'`);
  expect(quoteArg("")).toBe("''");
  expect(quoteArgv(["systemctl", "show", "a b"])).toBe("systemctl show 'a b'");
});

test("a NUL byte is refused, quoting what was received", () => {
  expect(() => quoteArgv(["ok", "bad\0arg"])).toThrow(/NUL byte.*"bad\\u0000arg"/);
});
