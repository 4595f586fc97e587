// `npm run schedule -- install|uninstall|status`: the smoke gate on a systemd timer (see src/schedule/).
import { ConfigError, loadConfig } from "../src/config/load.ts";
import { EXIT, RemediateError } from "../src/remediation/errors.ts";
import { parseScheduleArgs, USAGE } from "../src/schedule/args.ts";
import { install } from "../src/schedule/install.ts";
import { status } from "../src/schedule/status.ts";
import { uninstall } from "../src/schedule/uninstall.ts";
import { createLocalTransport } from "../src/transport/local.ts";

async function main(argv: string[]): Promise<number> {
  const o = parseScheduleArgs(argv);
  const say = (l: string) => void process.stdout.write(`${l}\n`);
  if (o === "help") {
    say(USAGE);
    return EXIT.ok;
  }
  if (process.getuid?.() !== 0) throw new RemediateError("schedule writes systemd units and reads root's state: run it as root", EXIT.notRoot);
  // The gate would stop on a bad config at every run: refused here, once.
  if (o.command === "install") loadConfig();
  const t = createLocalTransport(30_000);
  try {
    if (o.command === "install") return await install(t, { every: o.every, onFailure: o.onFailure, dryRun: o.dryRun, say });
    if (o.command === "uninstall") return await uninstall(t, { dryRun: o.dryRun, say });
    return await status(t, say);
  } finally {
    t.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const code = err instanceof RemediateError ? err.exitCode : err instanceof ConfigError ? EXIT.config : EXIT.internal;
    const e = err as Error;
    const where = code === EXIT.internal ? ` (${e.stack?.split("\n")[1]?.trim() ?? ""})` : "";
    process.stderr.write(`schedule: ${code === EXIT.internal ? "internal error: " : ""}${e.message}${where}\n`);
    process.exit(code);
  },
);
