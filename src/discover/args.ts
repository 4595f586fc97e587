import path from "node:path";
import { DISCOVER_EXIT, DiscoverError } from "./errors.ts";

export type DiscoverArgs = { service?: string; force: boolean; output: string; dryRun: boolean };

export const USAGE = "usage: npm run discover -- [--service NAME] [--output PATH] [--force] [--dry-run]";

// Reads discover's flags; `repo` is where the default output (deploy.config.json) goes.
export function parseDiscoverArgs(argv: string[], repo: string): DiscoverArgs {
  const out: DiscoverArgs = { force: false, dryRun: false, output: path.join(repo, "deploy.config.json") };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const [flag, inline] = a.startsWith("--") && a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === "" || (inline === undefined && v.startsWith("--")))
        throw new DiscoverError(`${flag} needs a value; ${USAGE}`, DISCOVER_EXIT.usage);
      return v;
    };
    if (flag === "--service") out.service = value();
    else if (flag === "--output") out.output = path.resolve(value());
    else if (flag === "--force" && inline === undefined) out.force = true;
    else if (flag === "--dry-run" && inline === undefined) out.dryRun = true;
    else throw new DiscoverError(`unknown option ${a}; ${USAGE}`, DISCOVER_EXIT.usage);
  }
  return out;
}
