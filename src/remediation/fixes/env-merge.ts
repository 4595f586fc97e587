import path from "node:path";
import type { ProbeContext } from "../../probes/context.ts";
import { operatorEnvFile, unitEnvSources } from "../../probes/environment.ts";
import { userDb } from "../../probes/files.ts";
import { serviceUnit, unitName, type Unit } from "../../probes/systemd.ts";
import type { Transport } from "../../transport/types.ts";
import { defineFix, type Action, type FixPlan } from "../fix.ts";
import { identityOf, pinned, type Read } from "../pinned.ts";
import { appendAssignments, dropEnvFileLines, envFilesDropIn, judgeShadowing, mentionsEnvFile } from "./env-shadow.ts";
import { dropInDir } from "./unit.ts";

// The drop-in this fix owns; it sorts after the usual names (and before unit-dropin's), so its reset of the list wins.
export const ENV_DROPIN_NAME = "zz-ddv-env-files.conf";

// Reads a file as bytes (one per character) without following a link, with what a write needs to keep.
async function readBytes(t: Transport, p: string): Promise<{ text: string; st: Read }> {
  const st = await pinned<Read>(t, { op: "read", path: p });
  return { text: Buffer.from(st.data, "base64").toString("latin1"), st };
}

// A write of `text` over the file read as `st`, keeping its owner and mode, held to that very object.
async function rewrite(ctx: ProbeContext, p: string, st: Read, text: string, maskValues = false): Promise<Action> {
  const db = await userDb(ctx);
  const owner = db.uidName.get(st.uid) ?? String(st.uid);
  const group = db.gidName.get(st.gid) ?? String(st.gid);
  return { kind: "write", path: p, content: text, encoding: "latin1", mode: st.mode & 0o7777, owner, group, expect: identityOf(st), maskValues };
}

// How the unit stops reading `files`: edit the one operator drop-in that names each, else our drop-in resets the list.
async function dropActions(ctx: ProbeContext, unit: Unit, files: string[]): Promise<{ actions: Action[]; note?: string } | { manual: string }> {
  const t = ctx.transport;
  const dir = dropInDir(unit.id);
  const sourcesOf = [unit.fragmentPath, ...unit.dropIns].filter(Boolean);
  const texts = new Map<string, string>();
  for (const p of sourcesOf) texts.set(p, await t.readFile(p));
  const naming = (f: string) => sourcesOf.filter((p) => mentionsEnvFile(texts.get(p) as string, f));
  const editable = (p: string) => path.dirname(p) === dir && path.basename(p) !== ENV_DROPIN_NAME;
  if (files.every((f) => naming(f).length === 1 && editable(naming(f)[0] as string))) {
    const edits = new Map<string, string>();
    for (const f of files) {
      const p = naming(f)[0] as string;
      edits.set(p, dropEnvFileLines(edits.get(p) ?? (texts.get(p) as string), f));
    }
    const out: Action[] = [];
    for (const [p, text] of edits) out.push(await rewrite(ctx, p, (await readBytes(t, p)).st, text));
    return { actions: out };
  }
  const later = unit.dropIns.filter((p) => path.basename(p) > ENV_DROPIN_NAME && files.some((f) => mentionsEnvFile(texts.get(p) as string, f)));
  if (later.length)
    return { manual: `${later.join(", ")} sorts after ${ENV_DROPIN_NAME} and names ${files.join(", ")}: remove its EnvironmentFile= line by hand` };
  const content = envFilesDropIn(unit.environmentFiles, files);
  if (!content) return { manual: "an env file's path holds blanks, quotes or backslashes: list the unit's env files by hand" };
  const out: Action[] = [];
  if (!(await t.stat(dir))) out.push({ kind: "mkdir", path: dir, mode: 0o755, owner: "root", group: "root" });
  out.push({ kind: "write", path: `${dir}/${ENV_DROPIN_NAME}`, content, mode: 0o644, owner: "root", group: "root" });
  const note = `${dir}/${ENV_DROPIN_NAME} resets EnvironmentFile=: an env file named later in the unit or an earlier drop-in is ignored; list it there`;
  return { actions: out, note };
}

// SVC-019: a later env file that repeats the operator's values is merged into it (what only it sets copied, byte for
// byte) and no longer read; when values differ, a manual step names the keys (never a value) and the files.
async function planMerge(ctx: ProbeContext): Promise<FixPlan> {
  const unit = await serviceUnit(ctx);
  if (unit.loadState !== "loaded") return { manual: `${unit.id} is ${unit.loadState || "not installed"}: its EnvironmentFile= lines need the unit` };
  const v = judgeShadowing(await unitEnvSources(ctx));
  if ("none" in v) return { manual: v.none };
  if ("differ" in v)
    return {
      manual:
        `${v.differ.map((d) => `${d.keys.join(", ")} differ between ${v.mine} and ${d.file}`).join("; ")} (values not shown): ` +
        `put the right value of each in ${v.mine}, then drop the later file's EnvironmentFile= line, daemon-reload and restart`,
    };
  if ("changes" in v) return { manual: `dropping the later env files would change ${v.changes.join(", ")} (another file sets them): merge by hand` };
  const files = v.merge.map((m) => m.file);
  if ([v.mine, ...files].some((f) => /[\x00-\x1f\x7f]/.test(f))) return { manual: "an env file's path holds control characters: merge by hand" };
  const t = ctx.transport;
  const actions: Action[] = [];
  const mine = await readBytes(t, v.mine);
  let text = mine.text;
  for (const m of v.merge.filter((x) => x.copy.length)) {
    const edit = appendAssignments(text, (await readBytes(t, m.file)).text, m.copy, m.file);
    if ("why" in edit) return { manual: `${edit.why}: merge by hand` };
    text = edit.text;
  }
  if (text !== mine.text) actions.push(await rewrite(ctx, v.mine, mine.st, text, true));
  const drop = await dropActions(ctx, unit, files);
  if ("manual" in drop) return drop;
  actions.push(
    ...drop.actions,
    { kind: "daemon-reload" },
    { kind: "validate", argv: ["systemd-analyze", "verify", unit.id], show: `systemd-analyze verify ${unit.id}` },
  );
  const notes = v.merge.map(
    (m) =>
      `${m.file}: the ${m.same.length} variables ${v.mine} also sets hold the same values; ` +
      `${m.copy.length ? `${m.copy.join(", ")} copied into ${v.mine} (values masked)` : "nothing to copy"}; ` +
      "no longer read, left in place (delete it when sure)",
  );
  return { actions, notes: [...notes, ...(drop.note ? [drop.note] : [])] };
}

// SVC-019's fix: one env file again, when the later one only repeats the operator's values.
export const mergeEnvFiles = defineFix({
  id: "merge-env-files",
  title: "Merge a later env file that repeats the operator's values into the operator's file, and stop reading it",
  rank: 55,
  restartsApp: true,
  async touches({ ctx, config }) {
    const mine = operatorEnvFile(await unitEnvSources(ctx));
    return { files: [...(mine ? [mine.name] : []), dropInDir(config.service)], units: [unitName(config.service)] };
  },
  plan: ({ ctx }) => planMerge(ctx),
});
