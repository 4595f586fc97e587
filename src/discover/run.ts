import { createLocalTransport } from "../transport/local.ts";
import type { Transport } from "../transport/types.ts";
import { parseDiscoverArgs } from "./args.ts";
import { DISCOVER_EXIT, DiscoverError } from "./errors.ts";
import { discoverHost } from "./gather.ts";
import { minimalConfig } from "./minimal.ts";
import { configText, renderTable, writeConfig } from "./output.ts";

// What a run needs from its surroundings (tests give their own).
export type DiscoverIO = { out(s: string): void; err(s: string): void; uid(): number | undefined; transport?: () => Transport };

// `npm run discover`: checks root, finds the service, prints the table and writes (or, with --dry-run, prints) the
// minimal config. Returns the exit code; every refusal is one line on stderr and nothing is written.
export async function runDiscover(argv: string[], repo: string, io: DiscoverIO): Promise<number> {
  let transport: Transport | undefined;
  try {
    const args = parseDiscoverArgs(argv, repo);
    if (io.uid() !== 0)
      throw new DiscoverError("discover must run as root: it reads the units' env files and starts Python as the service's user", DISCOVER_EXIT.notRoot);
    transport = io.transport?.() ?? createLocalTransport();
    const d = await discoverHost(transport, { service: args.service });
    const config = minimalConfig(d.findings);
    io.out(`Django service ${d.candidate.unit} (${d.candidate.server} ${d.candidate.target})\n\n${renderTable(d.findings, d.info, config)}\n`);
    for (const n of d.notes) io.out(`note: ${n}\n`);
    const text = configText(config);
    if (args.dryRun) {
      io.out(`\n${args.output} would hold:\n${text}`);
      return DISCOVER_EXIT.ok;
    }
    const how = writeConfig(args.output, text, args.force);
    io.out(`\n${how === "written" ? "wrote" : "unchanged:"} ${args.output} (${Object.keys(config).length} field(s) differ from the defaults)\n`);
    return DISCOVER_EXIT.ok;
  } catch (err) {
    if (err instanceof DiscoverError) {
      io.err(`discover: ${err.message}\n`);
      return err.exitCode;
    }
    io.err(`discover: internal error: ${(err as Error).stack ?? String(err)}\n`);
    return DISCOVER_EXIT.internal;
  } finally {
    transport?.close();
  }
}
