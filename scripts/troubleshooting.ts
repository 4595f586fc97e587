// `npm run docs`: writes docs/troubleshooting.md from the check catalogue and the fix registry.
// `--check`: writes nothing; exits 1 when the committed guide differs from what would be generated.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { catalogue } from "../src/checks/index.ts";
import { fixById } from "../src/remediation/fixes/index.ts";
import { renderTroubleshooting } from "../src/report/troubleshooting.ts";

// Where the guide lives in the repository.
export const GUIDE = path.join(import.meta.dirname, "..", "docs", "troubleshooting.md");

// The guide as the current catalogue and fixes describe it.
export function currentGuide(): string {
  return renderTroubleshooting(catalogue, (id) => fixById(id)?.title);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const want = currentGuide();
  if (process.argv.includes("--check")) {
    let have = "";
    try {
      have = readFileSync(GUIDE, "utf8");
    } catch {}
    if (have !== want) {
      process.stderr.write(`${path.relative(process.cwd(), GUIDE)} is stale: run npm run docs\n`);
      process.exit(1);
    }
  } else {
    writeFileSync(GUIDE, want);
    process.stdout.write(`wrote ${path.relative(process.cwd(), GUIDE)} (${catalogue.length} checks)\n`);
  }
}
