// A spec file's test as its afterAll sees it: what the test recorded (absent: the test did not run).
export type Ran = { meta: { status?: string; blockedBy?: string; target?: string } };

// How a red root ended: "failed" or "could not be checked"; undefined when it is not red (a waived or
// below-failOn failure blocks its dependants without turning the run red).
export type RootState = (root: string, target: string | undefined) => Promise<string | undefined>;

// Why a spec file judged nothing although it ran: every check it ran was skipped, and some were blocked by a root
// that could not look (the wrong machine). Vitest would show such a file with a green tick; undefined when it judged
// something, had nothing to judge, or its roots failed (a real finding, shown red once, at the root).
export async function explainUnjudged(suite: string, tests: Ran[], rootState: RootState): Promise<string | undefined> {
  const ran = tests.filter((t) => t.meta.status !== undefined);
  if (!ran.length || ran.some((t) => t.meta.status !== "skip")) return undefined;
  const roots = new Map<string, string>();
  for (const t of ran) {
    const root = t.meta.blockedBy;
    if (!root) continue;
    const key = `${root}${t.meta.target ? ` [${t.meta.target}]` : ""}`;
    if (roots.has(key)) continue;
    // Only roots that could not look: a root that failed is the run's red finding already, and its dependants'
    // skips are what "only the root cause shows red" means.
    const state = await rootState(root, t.meta.target);
    if (state === "could not be checked") roots.set(key, state);
  }
  if (!roots.size) return undefined;
  const list = [...roots].map(([key, state]) => `${key} (${state})`).join(", ");
  return `nothing in the ${suite} suite was checked: its ${ran.length} checks were skipped, blocked by ${list}; this suite is not green`;
}
