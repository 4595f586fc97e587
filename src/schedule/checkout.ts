import { existsSync, lstatSync, realpathSync } from "node:fs";
import path from "node:path";

// The checkout the timer runs: this repository, as the running code found it.
export const CHECKOUT = path.resolve(import.meta.dirname, "../..");

// Why root must not run code from `file` (a path another user could change: a directory on the way, or the file
// itself, writable by group or others, or owned by another user); undefined when only root can change it. A
// sticky directory (/tmp) is fine when the entry in it is root's: others cannot rename or remove it.
export function notRootsAlone(file: string): string | undefined {
  const real = realpathSync(file);
  let at = "/";
  for (const part of ["", ...real.split("/").filter(Boolean)]) {
    at = path.join(at, part);
    const s = lstatSync(at);
    if (s.uid !== 0) return `${at} is owned by uid ${s.uid}, not root`;
    if (s.mode & 0o022 && !(s.isDirectory() && s.mode & 0o1000))
      return `${at} is writable by ${s.mode & 0o002 ? "every user" : `group ${s.gid}`} (mode ${(s.mode & 0o7777).toString(8)})`;
  }
  return undefined;
}

// What the gate needs from the checkout; a problem is one line.
export function checkoutProblem(checkout: string, node: string): string | undefined {
  const vitest = path.join(checkout, "node_modules/vitest/vitest.mjs");
  if (!existsSync(vitest)) return `${vitest} is missing: run npm ci in ${checkout} first`;
  for (const p of [checkout, path.join(checkout, "node_modules"), path.join(checkout, "src"), path.join(checkout, "specs"), vitest, node]) {
    const why = notRootsAlone(p);
    if (why) return `root would run code another user can change: ${why}`;
  }
  return undefined;
}
