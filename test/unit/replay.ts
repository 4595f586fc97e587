import { readFileSync } from "node:fs";
import path from "node:path";
import { ConfigSchema } from "../../src/config/schema.ts";
import { ProbeContext } from "../../src/probes/context.ts";
import { TransportError, type CommandResult, type FileStat, type Transport } from "../../src/transport/types.ts";

// Output recorded from a real reference host (test/recorded/).
export const recorded = (name: string) => readFileSync(path.join(import.meta.dirname, "../recorded", name), "utf8");

type Reply = Partial<CommandResult> | Error;

// A transport that replays recorded command output: commands match by their first words, files by path.
export function replayTransport(commands: Record<string, Reply>, files: Record<string, string | FileStat> = {}): Transport & { calls: string[][] } {
  const calls: string[][] = [];
  const find = (argv: string[]) => Object.entries(commands).find(([k]) => argv.join(" ").startsWith(k))?.[1];
  return {
    kind: "local",
    name: "replay",
    calls,
    async run(argv) {
      calls.push(argv);
      const r = find(argv);
      if (r === undefined) throw new TransportError(`${argv[0]} could not run: ENOENT (nothing recorded for ${argv.join(" ")})`, "ENOENT");
      if (r instanceof Error) throw r;
      return { exitCode: 0, stdout: "", stderr: "", durationMs: 1, ...r };
    },
    async readFile(p) {
      const f = files[p];
      if (typeof f !== "string") throw new TransportError(`cannot read ${p}: ENOENT`, "ENOENT");
      return f;
    },
    async stat(p) {
      const f = files[p];
      if (f === undefined) return undefined;
      return typeof f === "string" ? { mode: 0o644, uid: 0, gid: 0, isDirectory: false, isFile: true, size: f.length } : f;
    },
    async readDir() {
      return [];
    },
    async readLink() {
      return undefined;
    },
    close() {},
  };
}

// A probe context with the default (ProjectMeats) config over a replay transport.
export function replayContext(t: Transport, config: Record<string, unknown> = {}) {
  return new ProbeContext(ConfigSchema.parse(config), t);
}
