import { describe, expect, test } from "vitest";
import { currentJournal, JOURNAL_MAX_BYTES, JOURNAL_MAX_ENTRIES, parseJournal } from "../../src/probes/systemd.ts";
import { checkById } from "../../src/checks/index.ts";
import { healthyCommands } from "./healthy-replay.ts";
import { recorded, replayContext, replayTransport } from "./replay.ts";

// journalctl -o json of a real Gunicorn invocation whose view raised ZeroDivisionError (18 entries).
const journal = recorded("journal-json-traceback.txt");

describe("the current invocation's journal, bounded", () => {
  test("whole output: every message line, not capped", () => {
    const lines = parseJournal(journal, false);
    expect(lines.capped).toBeUndefined();
    expect(lines).toContain("Traceback (most recent call last):");
    expect(lines).toContain("ZeroDivisionError: division by zero");
  });

  test("more entries than the cap: the oldest are dropped and the result says so", () => {
    const lines = parseJournal(journal, false, 10);
    expect(lines.capped).toBe("only the newest 10 entries were read");
    expect(lines[0]).not.toContain("Starting gunicorn");
  });

  test("output cut by the transport mid-entry: the partial line is dropped, never parsed, and the cap is named", () => {
    const cut = journal.slice(0, 3000); // ends inside an entry
    expect(() =>
      cut
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    ).toThrow(); // what used to happen
    const lines = parseJournal(cut, true, 100, 3000);
    expect(lines.capped).toMatch(/journalctl's output passed 3000 bytes, so only the oldest \d+ of the newest 100 entries were read/);
    expect(lines[0]).toContain("Starting gunicorn");
  });

  test("a line that is not JSON without a cut is an explicit error", () => {
    expect(() => parseJournal('{"MESSAGE":"a"}\nnot json\n', false)).toThrow(/journalctl printed a line that is not JSON \(entry 2/);
  });

  test("journalctl is asked for one entry over the cap, with a byte cap, and the cut is reported", async () => {
    const t = replayTransport({ ...healthyCommands(), journalctl: { stdout: journal.slice(0, 3000), truncated: true } });
    const lines = await currentJournal(replayContext(t));
    const argv = t.calls.find((c) => c[0] === "journalctl") ?? [];
    expect(argv).toEqual(expect.arrayContaining(["-n", String(JOURNAL_MAX_ENTRIES + 1), "_SYSTEMD_INVOCATION_ID=63dfc3b076a24700b5ea70f509b64eea"]));
    expect(lines.capped).toContain(`passed ${JOURNAL_MAX_BYTES} bytes`);
  });

  test("SVC-011 on the recorded journal names the exception line", async () => {
    const ctx = replayContext(replayTransport({ ...healthyCommands(), journalctl: { stdout: journal } }));
    // judged directly: its dependency SVC-001 needs more than the journal
    expect(await checkById("SVC-011").run(ctx)).toMatchObject({ pass: false, observed: "traceback in the journal: ZeroDivisionError: division by zero" });
  });

  test("SVC-011 on a journal cut at its cap with no traceback in what was read: an error, never a pass", async () => {
    // Cut before the entry holding the traceback: gunicorn's start was read, the rest was not.
    const cut = journal.slice(0, journal.lastIndexOf("\n", journal.indexOf("Traceback")) + 40);
    const ctx = replayContext(replayTransport({ ...healthyCommands(), journalctl: { stdout: cut, truncated: true } }));
    await expect(checkById("SVC-011").run(ctx)).rejects.toThrow(
      /the current start's journal was not read whole \(journalctl's output passed .* bytes.*\); no traceback in the \d+ lines read/,
    );
  });
});
