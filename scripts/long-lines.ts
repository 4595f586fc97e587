// Lint guard: lists lines over Biome's lineWidth (160) that its formatter cannot break (long string literals); exits 1 when there are any.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

const MAX = 160;
const tracked = execFileSync("git", ["ls-files", "-z", "--", "src", "specs", "remediate", "vitest.config.ts"], { encoding: "utf8" });
const files = tracked.split("\0").filter((path) => path.endsWith(".ts") && existsSync(path));
let found = 0;
for (const path of files) {
  for (const [i, line] of readFileSync(path, "utf8").split("\n").entries()) {
    const length = [...line].length;
    if (length > MAX) {
      console.log(`${path}:${i + 1}: ${length} characters`);
      found++;
    }
  }
}
if (found) console.error(`${found} line(s) over ${MAX} characters: split long strings into "..." + "..." pieces on separate lines`);
process.exit(found ? 1 : 0);
