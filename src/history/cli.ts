import { parseArgs } from "node:util";
import { EXIT } from "../remediation/errors.ts";
import type { Entry } from "./schema.ts";
import { historyDir } from "./state-dir.ts";
import { HistoryError, readEntry, runIds } from "./store.ts";

// Exit codes of `npm run history` (README): bad flags, a stored file it cannot read, a run it does not keep, not root.
export const HISTORY_EXIT = { ok: EXIT.ok, usage: EXIT.usage, corrupt: EXIT.badReport, noSuchRun: 66, notRoot: EXIT.notRoot } as const;

const USAGE = "usage: npm run history [-- --limit N] [--run ID] [--json]";
type Io = { out: (s: string) => void; err: (s: string) => void };

class Refusal extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

// One run as a line, then (red runs) its changes since the last green run, `max` of them.
export function describeEntry(e: Entry, max: number): string {
  const when = e.startedAt.replace("T", " ").replace(/\.\d+Z$/, "Z");
  const failing = e.failing.length ? ` failing ${e.failing.join(",")}` : "";
  const since = e.since ? `${e.changes.length} change(s) since green ${e.since.id}` : "no green run before it";
  const head = `${e.id}  ${when}  ${e.verdict.padEnd(11)}${failing}${e.verdict === "green" && !e.changes.length ? "" : `  ${since}`}`;
  const lines = e.verdict === "green" ? [] : e.changes.slice(0, max).map((c) => `    ${(c.checks.join(",") || "-").padEnd(8)} ${c.text}`);
  if (e.verdict !== "green" && e.changes.length > max) lines.push(`    ... ${e.changes.length - max} more: npm run history -- --run ${e.id}`);
  return [head, ...lines].join("\n");
}

function options(argv: string[]) {
  try {
    const { values } = parseArgs({ args: argv, options: { limit: { type: "string" }, run: { type: "string" }, json: { type: "boolean" } }, strict: true });
    const limit = values.limit === undefined ? 20 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1)
      throw new Refusal(`history: --limit wants a whole number of at least 1, received ${JSON.stringify(values.limit)}`, HISTORY_EXIT.usage);
    return { limit, run: values.run, json: values.json ?? false };
  } catch (err) {
    if (err instanceof Refusal) throw err;
    throw new Refusal(`history: ${(err as Error).message.split("\n")[0]} (${USAGE})`, HISTORY_EXIT.usage);
  }
}

// `npm run history`: the runs kept in the state directory, newest last, with verdict and changes; exit code above.
export function runHistory(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env): number {
  try {
    const o = options(argv);
    const state = historyDir(env);
    let ids: string[];
    try {
      ids = runIds(state);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EACCES" || code === "EPERM")
        throw new Refusal(`history: cannot read ${state} (${code}): the history is root-only, run as root`, HISTORY_EXIT.notRoot);
      throw err;
    }
    if (o.run && !ids.includes(o.run))
      throw new Refusal(
        `history: no run ${o.run} is kept in ${state} (${ids.length} kept${ids.length ? `, ${ids[0]} to ${ids.at(-1)}` : ""})`,
        HISTORY_EXIT.noSuchRun,
      );
    const entries = (o.run ? [o.run] : ids.slice(-o.limit)).map((id) => readEntry(state, id));
    if (o.json)
      io.out(
        `${JSON.stringify(
          entries.map(({ fingerprint, ...e }) => ({ ...e, gatherMs: fingerprint?.gatherMs })),
          null,
          2,
        )}\n`,
      );
    else if (!entries.length) io.out(`no runs recorded yet in ${state}: every \`npx vitest run\` on this host adds one\n`);
    else io.out(`${entries.map((e) => describeEntry(e, o.run ? Number.POSITIVE_INFINITY : 5)).join("\n")}\n`);
    return HISTORY_EXIT.ok;
  } catch (err) {
    if (err instanceof Refusal) {
      io.err(`${err.message}\n`);
      return err.code;
    }
    if (err instanceof HistoryError) {
      io.err(`history: ${err.message}\n`);
      return HISTORY_EXIT.corrupt;
    }
    throw err;
  }
}
