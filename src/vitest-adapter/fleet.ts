import { hostBound, type Target } from "../fleet/targets.ts";
import { session } from "./session.ts";

// undefined when the host answered; otherwise why it cannot be reached (once per run, whatever the spec files).
const reachability = new Map<string, Promise<string | undefined>>();
// The one test per unreachable host that reports it; the host's other tests point to it.
const reporter = new Map<string, string>();

// Opens the host's connection (a plain `true` through it): the root every other check of the host stands on.
export function reach(t: Target): Promise<string | undefined> {
  let p = reachability.get(t.name);
  if (!p) {
    p = session(t)
      .ctx.transport.run(["true"])
      .then(
        () => undefined,
        (err: Error) => err.message,
      );
    reachability.set(t.name, p);
  }
  return p;
}

// Which test reports host `t` as unreachable: the first to ask, so a host that cannot be reached is one error.
export function unreachableReporter(t: Target, testName: string): string {
  if (!reporter.has(t.name)) reporter.set(t.name, testName);
  return reporter.get(t.name) as string;
}

const started = new Map<string, Promise<void>>();

// Evaluates the given checks on every host, at most hostBound() hosts at once; each host connects first and,
// when it cannot, evaluates nothing. Resolves a host's entry in `started` when its checks are judged.
export function startFleet(targets: Target[], ids: string[]) {
  const queue = [...targets];
  const done = new Map<string, () => void>();
  for (const t of targets) started.set(t.name, new Promise<void>((resolve) => done.set(t.name, resolve)));
  const worker = async () => {
    for (let t = queue.shift(); t; t = queue.shift()) {
      try {
        if (!(await reach(t))) await session(t).evaluator.all(ids);
      } finally {
        done.get(t.name)?.();
      }
    }
  };
  for (let i = 0; i < Math.min(hostBound(), targets.length); i++) void worker();
}

// Waits for the host's turn in the run (its checks judged), so a test never starts a host outside the bound.
export function hostTurn(t: Target): Promise<void> {
  return started.get(t.name) ?? Promise.resolve();
}
