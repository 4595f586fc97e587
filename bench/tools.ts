// Puts Testinfra (python3-testinfra) and wrk, Debian's own packages, into a running benchmark host: their .debs and
// whatever they need that the host lacks are fetched with `apt-get download` on this machine and unpacked into the
// host's copy-on-write root (gone at teardown). The reference image itself never carries benchmark tools.
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { type HostState, execInside } from "../fixtures/host/machine.ts";

const DEBS = "/var/cache/ddv/bench-debs";
const WANT = ["python3-testinfra", "wrk"];

// Package names in the dependency closure of `pkgs` (first alternatives only), by apt-cache on this machine.
async function closure(pkgs: string[]): Promise<string[]> {
  const r = await execa(
    "apt-cache",
    ["depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", ...pkgs],
    { reject: false },
  );
  if (r.exitCode !== 0 || !String(r.stdout).includes(pkgs[0] as string)) return [];
  return [
    ...new Set(
      String(r.stdout)
        .split("\n")
        .filter((l) => /^[a-z0-9]/.test(l)),
    ),
  ].filter((p) => !p.includes("luajit2"));
}

// Installs WANT into the host (unpacked, no maintainer scripts: pure Python modules, a binary and its libraries).
export async function installBenchTools(state: HostState, log: (s: string) => void) {
  let names = await closure(WANT);
  if (!names.length) {
    log("apt-get update (package lists needed to fetch Testinfra and wrk)");
    await execa("apt-get", ["update", "-qq"], { timeout: 600_000 });
    names = await closure(WANT);
  }
  const installed = new Set(String((await execInside(state, ["dpkg-query", "-W", "-f", "${Package}\\n"])).stdout).split("\n"));
  const missing = names.filter((n) => !installed.has(n));
  mkdirSync(DEBS, { recursive: true });
  const have = readdirSync(DEBS);
  const fetch = missing.filter((n) => !have.some((f) => f.startsWith(`${n}_`)));
  if (fetch.length) {
    log(`apt-get download ${fetch.join(" ")}`);
    await execa("apt-get", ["download", ...fetch], { cwd: DEBS, timeout: 600_000 });
  }
  const root = path.join(state.dir, "root");
  const debs = readdirSync(DEBS).filter((f) => missing.some((n) => f.startsWith(`${n}_`)));
  for (const d of debs) await execa("dpkg-deb", ["-x", path.join(DEBS, d), root]);
  if (!existsSync(path.join(root, "usr/bin/wrk"))) throw new Error(`wrk did not land in the host (unpacked: ${debs.join(", ")})`);
  log(`unpacked into the host: ${debs.length} packages (${missing.join(" ")})`);
}
