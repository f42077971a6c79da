import { canonicalJson, type Digest, digest } from "@dwm/core";
import type { Run } from "@dwm/schemas";
import { validateSchema } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import type { EventDraft } from "./events.js";
import { foldJournal } from "./fold.js";
import { chainEvents } from "./test-support/chain.js";

const D = (n: number) => `sha256:${n.toString(16).padStart(64, "0")}` as Digest;

// list → measure (template, fan-out) → grade (template) → report
const run: Run = {
  kind: "run",
  schema_version: "1",
  run_id: "fan-0123456789ab",
  plan_id: "fan",
  plan_schema_version: "0.6",
  plan_digest: D(1),
  scorecard_digest: D(2),
  compiler_version: "0.1.0",
  revision: 1,
  base_commit: null,
  packets: [
    ["list", []],
    ["measure", ["list"]],
    ["grade", ["measure"]],
    ["report", ["grade"]],
  ].map(([id, deps], i) => ({
    packet_id: id as string,
    digest: D(10 + i),
    prompt_digest: D(20 + i),
    depends_on: deps as string[],
  })),
  gates: [],
  handoffs: [],
};

const chain = (drafts: EventDraft[]) => chainEvents(run, drafts);

const opened: EventDraft = {
  type: "run.opened",
  data: {
    run_digest: digest(run),
    plan_digest: D(1),
    revision: 1,
    packets: ["list", "measure", "grade", "report"],
    gates: [],
  },
};

function done(id: string, n = 1): EventDraft[] {
  return [
    {
      type: "packet.dispatched",
      data: { packet_id: id, attempt: n, packet_digest: D(5), base_commit: null },
    },
    {
      type: "attempt.recorded",
      data: { packet_id: id, attempt: n, outcome: "ok", attempt_digest: D(6), files: [] },
    },
    {
      type: "packet.reviewed",
      data: { packet_id: id, attempt: n, verdict: "approved", review_digest: D(7), files: [] },
    },
    { type: "packet.completed", data: { packet_id: id, attempt: n } },
  ];
}

/** fanout.expanded for items (key → digest number); grade items depend on their measure item. */
function expanded(items: [string, number][], dropped: string[] = [], handoff = D(90)): EventDraft {
  const packets = items.flatMap(([k, n]) => [
    { packet_id: `measure/${k}`, template: "measure", digest: D(100 + n), depends_on: ["list"] },
    { packet_id: `grade/${k}`, template: "grade", digest: D(200 + n), depends_on: [`measure/${k}`] },
  ]);
  return {
    type: "fanout.expanded",
    data: {
      from_packet: "list",
      first: "measure",
      templates: ["measure", "grade"],
      handoff: { artifact: "items.json", digest: handoff, items: items.length },
      packets,
      dropped,
      limit_gate: null,
      files: packets.map((p) => ({ path: `packets/${p.packet_id}.json`, digest: D(300) })),
    },
  };
}

const fold = (drafts: EventDraft[]) => foldJournal(chain([opened, ...drafts]), run);
const codeOf = (drafts: EventDraft[]) => {
  try {
    fold(drafts);
    return "ok";
  } catch (e) {
    return (e as { code: string }).code;
  }
};

describe("foldJournal: fan-out", () => {
  it("adds pending item packets, marks the templates expanded, records the expansion", () => {
    const s = fold([
      ...done("list"),
      expanded([
        ["a-1", 1],
        ["b-2", 2],
      ]),
    ]);
    expect(validateSchema("run-state", s).problems).toEqual([]);
    expect(s.packets.measure?.state).toBe("expanded");
    expect(s.packets.grade?.state).toBe("expanded");
    expect(s.packets["measure/a-1"]).toMatchObject({ state: "pending", fanout_from: "measure", attempts: 0 });
    expect(s.packets["grade/b-2"]).toMatchObject({ state: "pending", fanout_from: "grade" });
    expect(s.fanouts?.measure).toEqual({
      source_packet: "list",
      templates: ["measure", "grade"],
      handoff_digest: D(90),
      items: 2,
      packets: [
        { packet_id: "measure/a-1", template: "measure", digest: D(101) },
        { packet_id: "grade/a-1", template: "grade", digest: D(201) },
        { packet_id: "measure/b-2", template: "measure", digest: D(102) },
        { packet_id: "grade/b-2", template: "grade", digest: D(202) },
      ],
      dropped: [],
      seq: 6,
    });
    expect(
      canonicalJson(
        fold([
          ...done("list"),
          expanded([
            ["a-1", 1],
            ["b-2", 2],
          ]),
        ]),
      ),
    ).toBe(canonicalJson(s));
  });

  it("expanding again keeps completed items, adds new ones, drops removed ones and resets changed ones", () => {
    const base = [
      ...done("list"),
      expanded([
        ["a-1", 1],
        ["b-2", 2],
        ["c-3", 3],
      ]),
      ...done("measure/a-1"),
      ...done("grade/a-1"),
      ...done("measure/b-2"),
    ];
    // b changed its item → new id b-9; c left the source; d is new
    const again = expanded(
      [
        ["a-1", 1],
        ["b-9", 9],
        ["d-4", 4],
      ],
      ["measure/b-2", "grade/b-2", "measure/c-3", "grade/c-3"],
      D(91),
    );
    const s = fold([...base, again]);
    expect(s.packets["measure/a-1"]?.state).toBe("completed");
    expect(s.packets["grade/a-1"]?.state).toBe("completed");
    expect(s.packets["measure/b-9"]?.state).toBe("pending");
    expect(s.packets["measure/d-4"]?.state).toBe("pending");
    expect(s.packets["measure/b-2"]).toBeUndefined();
    expect(s.packets["grade/c-3"]).toBeUndefined();
    expect(s.fanouts?.measure?.dropped).toEqual(["measure/b-2", "grade/b-2", "measure/c-3", "grade/c-3"]);
    expect(s.fanouts?.measure?.handoff_digest).toBe(D(91));

    // dropped must be exactly what leaves
    expect(codeOf([...base, expanded([["a-1", 1]], ["measure/b-2"])])).toBe("ERR_JOURNAL_TRANSITION");
    // an item in flight cannot be dropped
    const inFlight = [...done("list"), expanded([["a-1", 1]]), done("measure/a-1")[0] as EventDraft];
    expect(codeOf([...inFlight, expanded([], ["measure/a-1", "grade/a-1"])])).toBe("ERR_JOURNAL_TRANSITION");
    // a packet id that is not an item of this fan-out cannot be claimed
    const clash = expanded([["a-1", 1]]);
    (clash.data as { packets: { packet_id: string }[] }).packets[0] = {
      ...(clash.data as { packets: { packet_id: string }[] }).packets[0],
      packet_id: "report",
    } as never;
    expect(codeOf([...done("list"), clash])).toBe("ERR_JOURNAL_TRANSITION");
  });

  it("sends an item packet whose digest changed (its template changed) back to pending", () => {
    const first = expanded([["a-1", 1]]);
    const changed = expanded([["a-1", 1]]);
    const d = changed.data as { packets: { digest: Digest }[] };
    d.packets[0] = { ...d.packets[0], digest: D(999) } as never;
    const s = fold([...done("list"), first, ...done("measure/a-1"), changed]);
    expect(s.packets["measure/a-1"]).toMatchObject({ state: "pending", attempts: 1, reopens: 1 });
  });

  it("completes the run with expanded templates once every item and the reduce are completed", () => {
    const items = [...done("list"), expanded([["a-1", 1]]), ...done("measure/a-1")];
    expect(codeOf([...items, { type: "run.completed", data: {} }])).toBe("ERR_JOURNAL_TRANSITION");
    expect(
      codeOf([...items, ...done("grade/a-1"), ...done("report"), { type: "run.completed", data: {} }]),
    ).toBe("ok");
  });

  it("a recompile that removes a per-item phase removes its items", () => {
    const s = fold([
      ...done("list"),
      expanded([["a-1", 1]]),
      {
        type: "run.recompiled",
        data: {
          run_digest: D(50),
          plan_digest: D(51),
          revision: 2,
          changes: { added: [], changed: ["report"], removed: ["grade"], downstream: [] },
        },
      },
    ]);
    expect(Object.keys(s.packets).sort()).toEqual(["list", "measure", "report"]);
    expect(s.fanouts?.measure).toBeUndefined();
  });

  it("a reopened packet starts a fresh repair budget", () => {
    const s = fold([
      done("list")[0] as EventDraft,
      done("list")[1] as EventDraft,
      {
        type: "packet.reviewed",
        data: { packet_id: "list", attempt: 1, verdict: "changes-requested", review_digest: D(7), files: [] },
      },
      { type: "repair.scheduled", data: { packet_id: "list", next_attempt: 2, reason: "fix" } },
      { type: "packet.reopened", data: { packet_id: "list", reason: "gate g rejected: again" } },
    ]);
    expect(s.packets.list).toMatchObject({ state: "pending", repairs: 0, reopens: 1 });
  });
});
