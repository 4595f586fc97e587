import type { Config } from "../config/schema.ts";
import type { ProbeContext } from "../probes/context.ts";
import type { Transport } from "../transport/types.ts";
import type { Expect } from "./pinned.ts";

// One change a fix makes. Plans are lists of actions, so the plan shown, the backup taken and the rollback done
// are all derived from the same data (nothing a fix does escapes the manifest).
export type Action =
  // Writes a whole file: a new file with this owner and mode, fsynced and renamed over the old one (never through it).
  // `expect`: the object the plan looked at (device, inode, owner, mode); anything else there is refused.
  // `encoding: "latin1"`: content holds bytes one per character (an edit of a file that may not be UTF-8).
  // `maskValues`: the plan's diff masks every env value, not only secret-named ones (lines copied between env files).
  | {
      kind: "write";
      path: string;
      content: string;
      encoding?: "utf8" | "latin1";
      mode: number;
      owner: string;
      group: string;
      expect?: Expect;
      maskValues?: boolean;
    }
  | { kind: "chmod"; path: string; mode: number; expect?: Expect }
  | { kind: "chown"; path: string; owner: string; group: string; expect?: Expect }
  | { kind: "mkdir"; path: string; mode: number; owner: string; group: string }
  // SQL run by the postgres superuser; `show` is what the plan prints (passwords masked), `undo` reverses it.
  | { kind: "sql"; database: string; sql: string; show: string; undo?: string; undoShow?: string }
  | { kind: "unit"; unit: string; verb: "start" | "enable" | "restart" | "reload" }
  | { kind: "daemon-reload" }
  // A command that must succeed before the fix goes on (nginx -t, systemd-analyze verify, the app's preflight).
  // `asService`: run as the unit's User/Group, in its WorkingDirectory, with the environment its next start gets
  // (read when the action runs, after earlier steps changed it).
  | { kind: "validate"; argv: string[]; show: string; cwd?: string; asService?: boolean }
  // A command that changes state no backup can hold (migrate, collectstatic); `undo` says how to reverse it by hand.
  | { kind: "run"; argv: string[]; show: string; asService?: boolean; undo: string }
  // Restarts the app, then waits (with backoff, restarting a failed unit again) until `ids` pass.
  | { kind: "restart-until-green"; unit: string; ids: string[]; seconds: number };

// What a fix sees: a fresh probe context on the host (its secrets learned), and the IDs it is asked to cure.
export type FixEnv = { ctx: ProbeContext; config: Config; transport: Transport; ids: string[]; addSecret(value: string): void };

// What a fix may touch, declared before it plans: path prefixes and unit names. Actions outside are refused.
export type Touches = { files: string[]; units: string[] };

// A plan, or why this fix cannot act here (its precondition failed): then the IDs become manual steps.
// `manualIds`: IDs of this run this fix cannot cure here (with why), while it acts on the others; they move
// to the manual list, so the IDs it did cure are not rolled back for them.
export type FixPlan = { actions: Action[]; notes?: string[]; manualIds?: Record<string, string> } | { manual: string };

// One automated cure, shared by every check ID whose `fixId` names it.
export type Fix = {
  id: string;
  title: string;
  // Order of application: PostgreSQL (10) < role (20) < grants (30) < files (40) < env (50) < unit (60) <
  // migrate/collectstatic (70) < app restart (80) < nginx (90).
  rank: number;
  // Its changes reach the app only on the app's next start: the runner restarts it once, after every such fix.
  restartsApp: boolean;
  touches(env: FixEnv): Promise<Touches> | Touches;
  plan(env: FixEnv): Promise<FixPlan>;
};

// Typed constructor for fix files.
export function defineFix(f: Fix): Fix {
  return f;
}
