// `npm run discover` (as root, on the server): finds the Django service and writes deploy.config.json with the values
// that differ from the defaults. Flags: --service NAME, --output PATH, --force, --dry-run (see src/discover/).
import path from "node:path";
import { runDiscover } from "../src/discover/run.ts";

const code = await runDiscover(process.argv.slice(2), path.join(import.meta.dirname, ".."), {
  out: (s) => void process.stdout.write(s),
  err: (s) => void process.stderr.write(s),
  uid: () => process.getuid?.(),
});
process.exitCode = code;
