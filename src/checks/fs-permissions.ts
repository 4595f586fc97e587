import type { ProbeContext } from "../probes/context.ts";
import { access, describe, serviceAccount, userDb } from "../probes/files.ts";
import { serviceUnit, wsgiModule } from "../probes/systemd.ts";
import { defineCheck, fail, pass } from "./define.ts";

// Walks a tree through the transport (no find(1)), not following directory symlinks. Throws when a
// directory cannot be listed or the tree is larger than `budget` paths: a partial walk proves nothing.
async function walk(ctx: ProbeContext, dir: string, visit: (path: string, mode: number) => void, budget = { left: 50_000 }): Promise<void> {
  const names = await ctx.transport.readDir(dir);
  await Promise.all(
    names.map(async (n) => {
      if (budget.left-- <= 0) throw new Error(`more than 50000 paths under ${ctx.config.projectDir}; not all were looked at`);
      const p = `${dir}/${n}`;
      const st = await ctx.transport.stat(p);
      if (!st) return; // vanished or a dangling symlink
      visit(p, st.mode);
      if (st.isDirectory && (await ctx.transport.readLink(p)) === undefined) await walk(ctx, p, visit, budget);
    }),
  );
}

export const fsChecks = [
  defineCheck(
    {
      id: "FS-001",
      title: "The unit's user can read the Django code",
      suite: "fs-permissions",
      severity: "critical",
      smoke: true,
      expects: "manage.py and the WSGI module under WorkingDirectory readable by the unit's User/Group",
      recommendation: "chown -R <user>:<group> <project dir> and make files 644, directories 755",
      fixId: "fix-permissions",
      dependsOn: ["SVC-004"],
    },
    {
      async run(ctx) {
        const u = await serviceUnit(ctx);
        const who = await serviceAccount(ctx);
        const base = u.workingDirectory || `${ctx.config.projectDir}/backend`;
        const wsgi = wsgiModule(u) ?? "";
        const files = [`${base}/manage.py`, ...(wsgi ? [`${base}/${wsgi.replaceAll(".", "/")}.py`] : [])];
        const results = await Promise.all(files.map((f) => access(ctx, f, who, "r")));
        const bad = results.filter((r) => !r.ok).map((r) => (r.ok ? "" : r.reason));
        return bad.length ? fail(bad.join("; ")) : pass(`${files.join(", ")} readable by ${who.name}`);
      },
    },
  ),
  defineCheck(
    {
      id: "FS-002",
      title: "The log directory and log files are writable by the unit's user",
      suite: "fs-permissions",
      severity: "high",
      expects: "the log directory and every *.log in it writable by the unit's User/Group",
      recommendation: "chown -R <user>:<group> <log dir>; chmod 775 <log dir>; chmod 664 <log dir>/*.log",
      fixId: "fix-permissions",
      dependsOn: ["SVC-016"],
    },
    {
      async run(ctx) {
        const who = await serviceAccount(ctx);
        const dir = ctx.config.logDir;
        const d = await access(ctx, dir, who, "w");
        if (!d.ok) return fail(d.reason);
        const logs = (await ctx.transport.readDir(dir)).filter((n) => n.endsWith(".log"));
        const results = await Promise.all(logs.map((n) => access(ctx, `${dir}/${n}`, who, "w")));
        const bad = results.filter((r) => !r.ok).map((r) => (r.ok ? "" : r.reason));
        return bad.length ? fail(bad.join("; ")) : pass(`${dir} and ${logs.length} log files writable by ${who.name}`);
      },
    },
  ),
  defineCheck(
    {
      id: "FS-003",
      title: "Env files are private (600 or 640) and not world-readable",
      suite: "fs-permissions",
      severity: "critical",
      smoke: true,
      expects: "each EnvironmentFile of the unit: mode 600 or 640 (no access for others)",
      recommendation: "chmod 640 <env file>; chown root:<group> (or <user>:<group>) <env file>",
      fixId: "fix-env-permissions",
      dependsOn: ["SVC-005"],
    },
    {
      async run(ctx) {
        const u = await serviceUnit(ctx);
        const db = await userDb(ctx);
        const files = u.environmentFiles.length ? u.environmentFiles.map((f) => f.path) : ctx.config.envFiles;
        const bad: string[] = [];
        const seen: string[] = [];
        for (const f of files) {
          const st = await ctx.transport.stat(f);
          if (!st) continue;
          (st.mode === 0o600 || st.mode === 0o640 ? seen : bad).push(`${f} ${describe(st, db)}`);
        }
        if (bad.length) return fail(bad.join("; "));
        return seen.length ? pass(seen.join("; ")) : fail(`none of ${files.join(", ")} exists`);
      },
    },
  ),
  defineCheck(
    {
      id: "FS-004",
      title: "Static files are collected",
      suite: "fs-permissions",
      severity: "high",
      expects: "STATIC_ROOT holds the static probe file (collectstatic ran)",
      recommendation: "Run `manage.py collectstatic --noinput` as the service user with the service's environment",
      fixId: "collectstatic",
    },
    {
      async run(ctx) {
        const p = `${ctx.config.staticRoot}/${ctx.config.staticProbeFile}`;
        const st = await ctx.transport.stat(p);
        return st?.isFile && st.size > 0 ? pass(`${p} (${st.size} bytes)`) : fail(`${p} ${st ? "is empty" : "does not exist"}`);
      },
    },
  ),
  defineCheck(
    {
      id: "FS-005",
      title: "Nothing under the project directory is world-writable",
      suite: "fs-permissions",
      severity: "high",
      expects: "no file or directory under the project directory with the o+w bit",
      recommendation: "chmod o-w on each path listed (directories 755/775, files 644/664)",
      fixId: "fix-permissions",
    },
    {
      async run(ctx) {
        const hits: string[] = [];
        let count = 0;
        await walk(ctx, ctx.config.projectDir, (p, mode) => {
          count++;
          if (mode & 0o002 && !(mode & 0o1000)) hits.push(`${p} ${mode.toString(8)}`);
        });
        return hits.length ? fail(`${hits.length} world-writable: ${hits.slice(0, 5).join(", ")}`) : pass(`${count} paths, none world-writable`);
      },
    },
  ),
];
