import type { JournalEvent } from "@dwm/schemas";
import { afterEach, describe, expect, it } from "vitest";
import { type ExampleContext, exampleContext } from "../test-support/builders.js";
import { eventsOpenJournalAppended } from "./run-log.js";

const ev = (seq: number, type: string) => ({ seq, type }) as JournalEvent;

describe("eventsOpenJournalAppended: the events a caller has not seen when the loop starts", () => {
  it("a new journal: run.opened and the lease", () => {
    expect(eventsOpenJournalAppended([ev(1, "run.opened"), ev(2, "lease.taken")]).map((e) => e.seq)).toEqual([
      1, 2,
    ]);
  });

  it("a resumed journal: the lease event only; after a repair, the truncation too", () => {
    const earlier = [ev(1, "run.opened"), ev(2, "lease.taken"), ev(3, "packet.dispatched")];
    expect(eventsOpenJournalAppended([...earlier, ev(4, "lease.taken")]).map((e) => e.seq)).toEqual([4]);
    expect(
      eventsOpenJournalAppended([...earlier, ev(4, "journal.truncated"), ev(5, "lease.taken-over")]).map(
        (e) => e.seq,
      ),
    ).toEqual([4, 5]);
  });

  it("an empty journal: nothing", () => {
    expect(eventsOpenJournalAppended([])).toEqual([]);
  });
});

describe("RunLog", () => {
  let open: ExampleContext | null = null;
  afterEach(() => {
    open?.close();
    open = null;
  });

  /** gate.opened of a compiled gate of the example. */
  const opened = (x: ExampleContext, gateId: string, packets: string[]) => ({
    type: "gate.opened" as const,
    data: {
      gate_id: gateId,
      gate_digest: x.ctx.setup.loaded.run.gates.find((g) => g.gate_id === gateId)?.digest as string,
      packets,
      reason: "r",
    },
  });

  it("append reports each event to progress, then to every observer in order, and counts it", async () => {
    const x = await exampleContext("repo-audit");
    open = x;
    const { log } = x.ctx;
    const seen: string[] = [];
    x.progress.length = 0;
    log.observe(
      { noteEvent: (e) => seen.push(`first ${e.seq} after ${x.progress.length} reports`) },
      { noteEvent: (e) => seen.push(`second ${e.seq}`) },
    );
    const before = log.state.seq;
    const [e] = log.append([opened(x, "human-gate", ["human_gate"])]);
    expect(e?.seq).toBe(before + 1);
    expect(log.state.gates["human-gate"]?.state).toBe("open");
    expect(seen).toEqual([`first ${before + 1} after 1 reports`, `second ${before + 1}`]);
    expect(log.activity.events).toBe(1);
  });

  it("replays what openJournal appended; progress events carry the frontier only once the loop runs", async () => {
    const x = await exampleContext("repo-audit");
    open = x;
    const { log } = x.ctx;
    const history = log.replayHistory();
    expect(history.map((e) => e.type)).toEqual(["run.opened", "lease.taken"]);
    expect(x.progress.map((p) => (p.kind === "event" ? [p.event.type, p.frontier] : p.message))).toEqual([
      ["run.opened", null],
      ["lease.taken", null],
    ]);
    log.append([opened(x, "human-gate", ["human_gate"])]);
    const before = x.progress.at(-1);
    expect(before?.kind === "event" && before.frontier).toBeNull();
    log.startLoop();
    log.append([opened(x, "write", ["inventory"])]);
    const during = x.progress.at(-1);
    const frontier = during?.kind === "event" ? during.frontier : null;
    expect(frontier?.run_id).toBe(x.ctx.setup.runId);
    expect(frontier?.seq).toBe(log.state.seq);
  });
});
