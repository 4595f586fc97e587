import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, test } from "vitest";

// The JUnit reporter of vitest.config.ts, run by a real vitest (its own process) on two spec files that end the way
// register.ts ends a check: pass, fail, error (meta.status "error"), skip with a reason, and a plain skip.
const REPO = path.join(import.meta.dirname, "..", "..");
const dir = mkdtempSync(path.join(tmpdir(), "ddv-junit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const spec = (tests: string[]) =>
  ["const end = (name, text) => Object.assign(new Error(text), { name, stack: `${name}: ${text}` });", ...tests.map((t) => `${t};`)].join("\n");
let xml = "";

beforeAll(async () => {
  writeFileSync(
    path.join(dir, "a.spec.js"),
    spec([
      `test("SVC-001 passes", () => {})`,
      `test("SVC-012 errors", (ctx) => { ctx.task.meta.status = "error"; throw end("CheckError", "SVC-012 ERROR (could not check): timed out"); })`,
      `test("HTTP-001 fails", (ctx) => { ctx.task.meta.status = "fail"; throw end("AssertionError", "HTTP-001 FAIL: 502"); })`,
      `test("DB-001 blocked", (ctx) => { ctx.task.meta.status = "skip"; ctx.skip("blocked by SVC-012 (could not be checked)"); })`,
      `test("SEC-004 advice", (ctx) => ctx.skip('medium finding, below failOn=high: reported, not red | SEC-004 FAIL: no "X-Frame" <header>'))`,
      `test.skip("PERF-001 not run", () => {})`,
    ]),
  );
  writeFileSync(
    path.join(dir, "b.spec.js"),
    spec([`test("SEC-001 errors", (ctx) => { ctx.task.meta.status = "error"; throw end("CheckError", "SEC-001 ERROR (could not check): denied"); })`]),
  );
  const reporter = path.join(REPO, "src", "vitest-adapter", "junit-reporter.ts");
  const options = { outputFile: "junit.xml", suiteName: "ddv", classnameTemplate: "{filename}" };
  const config = { test: { include: ["*.spec.js"], globals: true, reporters: [[reporter, options]] } };
  writeFileSync(path.join(dir, "vitest.config.mjs"), `export default ${JSON.stringify(config)};\n`);
  // Not this run's own vitest settings (its worker, pool, env): a clean child.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("VITEST") && k !== "NODE_ENV" && k !== "TEST"));
  const r = await execa(process.execPath, [path.join(REPO, "node_modules", "vitest", "vitest.mjs"), "run"], { cwd: dir, env, extendEnv: false, reject: false });
  expect(r.exitCode, r.all ?? r.stderr).toBe(1);
  xml = readFileSync(path.join(dir, "junit.xml"), "utf8");
}, 60_000);

test("a check that could not be checked is an <error>, counted in errors= and not in failures=", () => {
  expect(xml).toContain('<testsuites name="ddv" tests="7" failures="1" errors="2"');
  expect(xml).toMatch(/<testsuite name="a\.spec\.js" [^>]* tests="6" failures="1" errors="1" skipped="3"/);
  expect(xml).toMatch(/<testsuite name="b\.spec\.js" [^>]* tests="1" failures="0" errors="1" skipped="0"/);
  expect(xml).toContain('<error message="SVC-012 ERROR (could not check): timed out" type="CheckError">');
  expect(xml).toContain('<error message="SEC-001 ERROR (could not check): denied" type="CheckError">');
  expect(xml).toContain('<failure message="HTTP-001 FAIL: 502" type="AssertionError">');
  expect(xml.match(/<\/error>/g)).toHaveLength(2);
  expect(xml.match(/<failure /g)).toHaveLength(1);
});

test("a skip says why; one without a reason stays vitest's bare <skipped/>; names and classnames are vitest's", () => {
  const testcase = (name: string) =>
    xml.match(new RegExp(`<testcase classname="a\\.spec\\.js" name="${name}" time="[\\d.]+">([\\s\\S]*?)</testcase>`))?.[1]?.trim();
  expect(testcase("DB-001 blocked")).toBe('<skipped message="blocked by SVC-012 (could not be checked)">\n            </skipped>');
  expect(testcase("SEC-004 advice")).toMatch(
    /^<skipped message="medium finding, below failOn=high: reported, not red \| SEC-004 FAIL: no &quot;X-Frame&quot; &lt;header&gt;">/,
  );
  expect(testcase("PERF-001 not run")).toBe("<skipped/>");
  expect(testcase("SVC-001 passes")).toBe("");
});
