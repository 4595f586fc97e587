// `npm run history [-- --limit N] [--run ID] [--json]` (as root): the validator's runs on this host, with verdict and
// what changed since the last green run (src/history/). $DDV_STATE_DIR names another history.
import { runHistory } from "../src/history/cli.ts";

process.exitCode = runHistory(process.argv.slice(2), { out: (s) => void process.stdout.write(s), err: (s) => void process.stderr.write(s) });
