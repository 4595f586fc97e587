import { readCgroupPids } from "../../probes/process.ts";
import type { Transport } from "../../transport/types.ts";

// The cgroup path systemd gives a unit in a slice: "system.slice" nests as /system.slice, "a-b.slice" as
// /a.slice/a-b.slice ("-.slice" is the root), the unit below it.
export function cgroupOfUnit(slice: string, unit: string): string {
  const name = slice.replace(/\.slice$/, "");
  if (!name || name === "-") return `/${unit}`;
  const parts = name.split("-");
  const chain = parts.map((_, i) => `${parts.slice(0, i + 1).join("-")}.slice`);
  return `/${[...chain, unit].join("/")}`;
}

// A process's cgroup from /proc/<pid>/cgroup: the unified ("0::") line, else systemd's own v1 hierarchy.
export function parseProcCgroup(text: string): string | undefined {
  const lines = text.split("\n");
  const v2 = lines.find((l) => l.startsWith("0::"));
  if (v2) return v2.slice(3);
  return lines.find((l) => /^\d+:name=systemd:/.test(l))?.replace(/^\d+:name=systemd:/, "");
}

// The unit a cgroup path belongs to (its deepest .service or .scope component), undefined when it names none
// (a process of another cgroup namespace shows as "/../..").
export function unitOfCgroup(path: string): string | undefined {
  return path
    .split("/")
    .reverse()
    .find((c) => /\.(service|scope)$/.test(c));
}

// PIDs in a cgroup (cgroup.procs), on unified or hybrid layouts; [] when the cgroup does not exist (a stopped unit).
export async function cgroupPids(t: Transport, path: string): Promise<number[]> {
  return (await readCgroupPids(t, path)) ?? [];
}
