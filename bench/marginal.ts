// The marginal cost of a check: N file, systemd-unit and HTTP assertions in the validator (vitest, its reporters,
// its probes) and the same N in Testinfra (`pytest --hosts=local://`), timed inside the benchmark host; the slope
// (time(200) - time(20)) / 180 is what one more assertion costs in each tool.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { type HostState, execInside } from "../fixtures/host/machine.ts";
import { REPO_ROOT } from "../fixtures/host/paths.ts";
import type { Kind } from "./marginal/assertions.ts";
import { type Stats, stats, wallInside } from "./timing.ts";

const GEN = path.join(REPO_ROOT, "bench/marginal/generated");
export const KINDS: Kind[] = ["file", "unit", "http"];

// N distinct targets of a kind, as they exist in the host.
async function targets(state: HostState, kind: Kind, n: number): Promise<string[]> {
  if (kind === "http") return Array.from({ length: n }, (_, i) => `/health/?n=${i}`);
  // Units: every loaded, non-template unit systemd lists (installed or merely referenced).
  const units =
    "(systemctl list-unit-files --no-legend --plain; systemctl list-units --all --no-legend --plain) | awk '{print $1}' | grep -v '^-\\|@$\\|@\\.' | sort -u | xargs systemctl show --no-pager -p Id,LoadState -- | awk -F= '/^Id=/{id=$2} /^LoadState=loaded/{print id}' | sort -u";
  const cmd = kind === "file" ? "find /usr/share/doc /etc -xdev -type f 2>/dev/null | sort" : units;
  const all = String((await execInside(state, ["sh", "-c", cmd])).stdout)
    .split("\n")
    .filter(Boolean);
  if (all.length < n / 2) throw new Error(`the host has only ${all.length} ${kind} targets, ${n} wanted`);
  // A host with fewer (about 190 loaded units) repeats from the start: each tool still asserts n times.
  return Array.from({ length: n }, (_, i) => all[i % all.length] as string);
}

const py = (s: string) => JSON.stringify(s);

// Testinfra's way of asserting the same thing (it has no HTTP module: teams run curl through host.run).
function testinfraFile(kind: Kind, list: string[]): string {
  const body =
    kind === "file"
      ? "def test_it(host, t):\n    assert host.file(t).exists\n"
      : kind === "unit"
        ? "def test_it(host, t):\n    assert host.service(t).systemd_properties['LoadState'] == 'loaded'\n"
        : "def test_it(host, t):\n    code = host.check_output(\"curl -s -o /dev/null -w '%%{http_code}' -H 'Host: localhost' http://127.0.0.1:8000%s\", t)\n    assert int(code) < 500\n";
  return `import pytest\n\nTARGETS = [${list.map(py).join(", ")}]\n\n\n@pytest.mark.parametrize("t", TARGETS)\n${body}`;
}

export type Marginal = Record<Kind, { ours: Record<number, Stats>; testinfra: Record<number, Stats>; slopeOursMs: number; slopeTestinfraMs: number }>;

// Times both tools at each size, `rounds` times each, after one warm-up run.
export async function measureMarginal(state: HostState, sizes: [number, number], rounds: number, log: (s: string) => void): Promise<Marginal> {
  rmSync(GEN, { recursive: true, force: true });
  mkdirSync(GEN, { recursive: true });
  const out = {} as Marginal;
  for (const kind of KINDS) {
    const ours: Record<number, Stats> = {};
    const ti: Record<number, Stats> = {};
    for (const n of sizes) {
      const list = await targets(state, kind, n);
      writeFileSync(
        path.join(GEN, `${kind}-${n}.spec.ts`),
        `import { registerAssertions } from "../assertions.ts";\n\nregisterAssertions(${py(kind)}, ${JSON.stringify(list)});\n`,
      );
      writeFileSync(path.join(GEN, `test_${kind}_${n}.py`), testinfraFile(kind, list));
      ours[n] = stats(
        await wallInside(
          state,
          ["node_modules/.bin/vitest", "run", "--config", "bench/marginal/vitest.config.ts", `bench/marginal/generated/${kind}-${n}.spec.ts`],
          rounds,
          { DDV_REPORTS_DIR: "reports/bench-marginal" },
        ),
      );
      ti[n] = stats(
        await wallInside(
          state,
          ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--hosts=local://", `bench/marginal/generated/test_${kind}_${n}.py`],
          rounds,
        ),
      );
      log(`  ${kind} x${n}: validator ${ours[n].median} ms, Testinfra ${ti[n].median} ms`);
    }
    const [a, b] = sizes;
    const slope = (s: Record<number, Stats>) => (s[b].median - s[a].median) / (b - a);
    out[kind] = { ours, testinfra: ti, slopeOursMs: slope(ours), slopeTestinfraMs: slope(ti) };
  }
  return out;
}
