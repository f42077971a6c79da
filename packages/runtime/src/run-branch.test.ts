// The branch a run started from (run.opened.branch): journaled when the journal is new, folded
// into the state, absent otherwise; `dwm land` brings the run's result there by default.
import { validateSchema } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import type { EventDraft } from "./events.js";
import { foldJournal } from "./fold.js";
import { openingEvents } from "./journal.js";
import { chainEvents } from "./test-support/chain.js";
import { D, packetEntries, runOpened, testRun } from "./test-support/runs.js";

const run = testRun({ packets: packetEntries(["a"]) });

const opened = (branch?: string): EventDraft => runOpened(run, branch !== undefined ? { branch } : {});

describe("the branch a run started from", () => {
  it("openingEvents puts it into run.opened of a new journal only", () => {
    const base = {
      run,
      runDigest: D(99),
      torn: null,
      tookOver: null,
      pid: 1,
      host: "h",
      branch: "feature/x",
    };
    expect(openingEvents({ ...base, fresh: true })[0]?.data).toMatchObject({ branch: "feature/x" });
    expect(openingEvents({ ...base, fresh: false }).map((d) => d.type)).toEqual(["lease.taken"]);
    expect(
      openingEvents({ ...base, branch: undefined, fresh: true })[0]?.data as Record<string, unknown>,
    ).not.toHaveProperty("branch");
  });

  it("the fold keeps it; a journal without one has none", () => {
    const withIt = foldJournal(chainEvents(run, [opened("main")]), run);
    expect(withIt.branch).toBe("main");
    expect(validateSchema("run-state", withIt).ok).toBe(true);
    expect(foldJournal(chainEvents(run, [opened()]), run)).not.toHaveProperty("branch");
  });

  it("a name git would not take as a branch does not match the journal-event schema", () => {
    for (const good of ["main", "feature/x", "v1.2", "user@host"])
      expect(validateSchema("journal-event", chainEvents(run, [opened(good)])[0]).ok, good).toBe(true);
    for (const bad of ["", "a..b", "refs/heads/x/", "x.lock", "-x", "a b", "a~1", "a:b", ".hidden", "a//b"])
      expect(validateSchema("journal-event", chainEvents(run, [opened(bad)])[0]).ok, bad).toBe(false);
  });
});
