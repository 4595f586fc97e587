import { describe, expect, test } from "vitest";
import { nameService } from "../../src/checks/define.ts";
import { catalogue, checkById } from "../../src/checks/index.ts";
import type { Outcome } from "../../src/runner/evaluate.ts";
import { formatOutcome } from "../../src/vitest-adapter/outcome-text.ts";

const outcome = (o: Partial<Outcome>): Outcome => ({ id: "SVC-016", status: "fail", observed: "", durationMs: 1, ...o });

describe("the failure text of a check", () => {
  test("a message of several lines stays under its check: no line at column 0", () => {
    const text = formatOutcome(checkById("SVC-016"), outcome({ status: "error", observed: "could not check: first line\nsecond line\n  third" }));
    const lines = text.split("\n");
    expect(lines[0]).toBe("SVC-016 ERROR (could not check): The Django service's unit is installed and loaded");
    for (const l of lines.slice(1)) expect(l).toMatch(/^ {2}\S|^ {12}/);
    expect(lines).toContain("  observed: first line");
    expect(lines).toContain("            second line");
    expect(lines).toContain("              third");
  });

  test("an error says 'could not check' once: in its heading", () => {
    const text = formatOutcome(checkById("SVC-016"), outcome({ status: "error", observed: "could not check: systemctl timed out" }));
    expect(text.match(/could not check/g)).toHaveLength(1);
    expect(text).toContain("  observed: systemctl timed out");
    // A failure's observed text is its own: nothing is taken off.
    expect(formatOutcome(checkById("SVC-016"), outcome({ observed: "could not check: x" }))).toContain("  observed: could not check: x");
  });

  test("the catalogue's <service> names the configured unit where it is printed", () => {
    const crash = formatOutcome(checkById("SVC-003"), outcome({ id: "SVC-003" }), { service: "shop" });
    expect(crash).toContain("journalctl -u shop -n 50");
    expect(crash).not.toContain("<service>");
    // A unit name given with .service: the text appends .service or .socket itself.
    const bind = formatOutcome(checkById("SEC-007"), outcome({ id: "SEC-007" }), { service: "gunicorn.service" });
    expect(bind).toContain("unix:/run/gunicorn.sock");
    const verify = formatOutcome(checkById("SVC-010"), outcome({ id: "SVC-010" }), { service: "gunicorn.service" });
    expect(verify).toContain("systemd-analyze verify gunicorn.service");
    expect(verify).not.toContain("gunicorn.service.service");
    // Other placeholders (<service user>, <version>) are not a unit name and stay.
    expect(nameService("Set User=<service user>; journalctl -u <service>", "shop")).toBe("Set User=<service user>; journalctl -u shop");
    // Every check's printed advice and expectation, with a service configured, names no <service>.
    for (const c of catalogue) expect(formatOutcome(c, outcome({ id: c.id }), { service: "shop" }), c.id).not.toContain("<service>");
  });

  test("on a machine that is not the deployment's host, a check that could not look gives that advice, not the catalogue's", () => {
    const advice = "nothing to fix here (this machine is not the deployment's host): run the validator on the server";
    const err = formatOutcome(checkById("SEC-001"), outcome({ id: "SEC-001", status: "error", observed: "could not check: no systemd" }), {
      wrongMachine: advice,
    });
    expect(err).toContain(`  do:       ${advice}`);
    expect(err).not.toContain("Set DEBUG=False");
    // A failure is a finding about what was seen: its own advice stands.
    const failed = formatOutcome(checkById("SEC-001"), outcome({ id: "SEC-001", observed: "DEBUG=True" }), { wrongMachine: advice });
    expect(failed).toContain("Set DEBUG=False");
  });
});
