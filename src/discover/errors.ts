import { EXIT } from "../remediation/errors.ts";

// Exit codes of `npm run discover`, documented in the README; each bad input has one clear line and one of these.
export const DISCOVER_EXIT = {
  ok: 0,
  usage: EXIT.usage, // 64: unknown option, missing value, or several Django services and no --service
  notFound: EXIT.wrongHost, // 69: no Django service on this host (or systemd is not running)
  internal: EXIT.internal, // 70: a bug: the message says where
  exists: 73, // the output file exists and --force was not given (EX_CANTCREAT; the diff is shown)
  notRoot: EXIT.notRoot, // 77: discovery reads units' environments and starts Python as the service's user
  nginx: EXIT.config, // 78: nginx is installed but its configuration cannot be read
} as const;

// A refusal with its exit code; the CLI prints the message as one line and writes nothing.
export class DiscoverError extends Error {
  override name = "DiscoverError";
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}
