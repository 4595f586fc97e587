import type { ProbeContext } from "../probes/context.ts";
import { ShownUnit, showProperties } from "../probes/systemctl-show.ts";
import { serviceUnit, unitName } from "../probes/systemd.ts";
import type { TransportError } from "../transport/types.ts";
import type { Items } from "./items.ts";

// The unit's sandbox settings, asked of systemd as it applies them (defaults included).
const SANDBOX = [
  "NoNewPrivileges",
  "PrivateTmp",
  "PrivateDevices",
  "ProtectSystem",
  "ProtectHome",
  "ReadWritePaths",
  "ReadOnlyPaths",
  "InaccessiblePaths",
  "ProtectKernelTunables",
  "ProtectKernelModules",
  "ProtectControlGroups",
  "RestrictAddressFamilies",
  "RestrictNamespaces",
  "CapabilityBoundingSet",
  "AmbientCapabilities",
  "UMask",
];

// An argv as options with their values ("--timeout 120" is one item), so a diff names the option that moved.
export function argvOptions(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const next = argv[i + 1];
    if (/^-/.test(a) && !a.includes("=") && next !== undefined && !/^-/.test(next) && i + 1 < argv.length - 1) {
      out.push(`${a} ${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

// A unit file's directives, continuation lines joined; Environment= keeps only its names (values are env's to judge).
export function unitLines(text: string): string[] {
  const joined = text.replace(/\\\r?\n/g, " ");
  return joined
    .split("\n")
    .map((l) => l.trim().replace(/\s+/g, " "))
    .filter((l) => l && !/^[#;]/.test(l))
    .map((l) => {
      const m = l.match(/^Environment\s*=\s*(.*)$/);
      if (!m) return l;
      const names = [...(m[1] as string).matchAll(/(?:^|\s)"?([A-Za-z_][A-Za-z0-9_]*)=/g)].map((x) => x[1]);
      return `Environment=${names.join(" ")} (values not kept)`;
    });
}

// The unit file and its drop-ins (a digest and their directives each), and its effective properties.
export async function gatherUnit(ctx: ProbeContext, b: Items): Promise<void> {
  const unit = await serviceUnit(ctx);
  const name = unitName(ctx.config.service);
  const files = [unit.fragmentPath, ...unit.dropIns].filter(Boolean);
  const [texts, shown] = await Promise.all([
    Promise.all(files.map((f) => ctx.transport.readFile(f).catch((e: Error) => `unreadable: ${e.message}`))),
    // systemctl answering with an error leaves the sandbox out (the unit's own checks say why); a transport error does not.
    showProperties(ctx.transport, [name], SANDBOX).catch((e: TransportError) => {
      if (e.code === "ESYSTEMCTL" || e.code === "ENOSYSTEMD") return [];
      throw e;
    }),
  ]);
  files.forEach((f, i) => b.add(`unit file ${f}`, texts[i] as string, undefined, unitLines(texts[i] as string)));
  b.add("unit User", unit.user, unit.user || "(root)");
  b.add("unit Group", unit.group, unit.group || "(the user's group)");
  b.add("unit WorkingDirectory", unit.workingDirectory, unit.workingDirectory);
  const argv = unit.execStart?.argv ?? [];
  b.add("unit ExecStart", JSON.stringify(argv), undefined, argvOptions(argv));
  const envFiles = unit.environmentFiles.map((f) => `${f.optional ? "-" : ""}${f.path}`);
  b.add("unit EnvironmentFiles", JSON.stringify(envFiles), undefined, envFiles);
  b.add("unit Restart", unit.restart, unit.restart);
  b.add("unit SuccessExitStatus", JSON.stringify(unit.successExitStatus), [...unit.successExitStatus.statuses, ...unit.successExitStatus.signals].join(" "));
  const props = shown[0] ?? new ShownUnit();
  for (const p of SANDBOX) if (props.has(p)) b.add(`unit ${p}`, props.get(p)?.join(" ") ?? "", props.get(p)?.join(" ") ?? "");
}
