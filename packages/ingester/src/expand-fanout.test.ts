import fs from "node:fs";
import path from "node:path";
import { type Digest, digest, digestBytes, readArtifact } from "@dwm/core";
import type { Packet } from "@dwm/schemas";
import { validateSchema } from "@dwm/schemas";
import { makeTempDir } from "@dwm/test-utils";
import { describe, expect, it } from "vitest";
import {
  expandFanout,
  type FanoutTemplate,
  fanoutItemId,
  fanoutLimitGate,
  reduceList,
  writeFanoutFiles,
} from "./expand-fanout.js";
import { Driver, makeRun, packet } from "./test-support/run.js";

const fanout = (position: number) => ({
  role: "template" as const,
  over: "items.json",
  key: "id",
  max_items: 3,
  source_packet: "list",
  first: "measure",
  position,
  pipeline: ["measure", "grade"] as [string, ...string[]],
  reduce: "report",
});

const list = packet("list", {
  outputs: [
    {
      artifact: "items.json",
      format: "json-list",
      required_fields: ["id", "path"],
      validation_command: "true",
      to_packets: ["measure"],
    },
  ],
});
const measure = packet("measure", {
  depends_on: ["list"],
  inputs: [
    { artifact: "items.json", from_packet: "list", format: "json-list", required_fields: ["id", "path"] },
  ],
  outputs: [
    {
      artifact: "m.json",
      format: "json",
      required_fields: ["words"],
      validation_command: "node ../../check.mjs m.json",
      to_packets: ["grade"],
    },
    { artifact: "a short note" },
    { artifact: "nothing" },
  ],
  command: { argv: ["node", "measure.mjs"] },
  gates: ["shell-process"],
  fanout: fanout(0),
});
const grade = packet("grade", {
  depends_on: ["measure"],
  inputs: [{ artifact: "m.json", from_packet: "measure", format: "json", required_fields: ["words"] }],
  outputs: [
    {
      artifact: "g.json",
      format: "json",
      required_fields: ["grade"],
      validation_command: "true",
      to_packets: ["report"],
    },
  ],
  fanout: fanout(1),
});
const report = packet("report", { depends_on: ["grade"] });
const run = makeRun([list, measure, grade, report]);
const templates: FanoutTemplate[] = [
  { packet: measure, digest: digest(measure) },
  { packet: grade, digest: digest(grade) },
];

const bytes = (v: unknown) => Buffer.from(JSON.stringify(v));
const source = (v: unknown) => {
  const b = typeof v === "string" ? Buffer.from(v) : bytes(v);
  return { artifact: "items.json", digest: digestBytes(b), bytes: b };
};
const items = [
  { id: "docs/a.md", path: "docs/a.md" },
  { id: "b", path: "docs/b.md", extra: 1 },
];

describe("expandFanout", () => {
  it("builds one packet per item per per-item phase, content-addressed, with the event naming every file", () => {
    const d = new Driver(run);
    const x = expandFanout({ state: d.state, templates, source: source(items) });
    if (x.kind !== "expanded") throw new Error(x.kind);
    const idA = fanoutItemId("measure", "docs/a.md", digest(items[0]));
    expect(idA).toBe(`measure/docs-a.md-${digest(items[0]).slice(7, 15)}`);
    expect(x.packets.map((p) => p.packet.packet_id)).toEqual([
      idA,
      idA.replace("measure/", "grade/"),
      `measure/b-${digest(items[1]).slice(7, 15)}`,
      `grade/b-${digest(items[1]).slice(7, 15)}`,
    ]);
    for (const p of x.packets) {
      expect(validateSchema("packet", p.packet).problems).toEqual([]);
      expect(p.digest).toBe(digest(p.packet));
    }
    const [m, g] = x.packets.map((p) => p.packet) as [Packet, Packet];
    expect(m.depends_on).toEqual(["list"]);
    expect(m.inputs).toEqual([]);
    expect(m.gates).toEqual(["shell-process"]);
    expect(m.outputs[0]).toMatchObject({
      artifact: `${idA}/m.json`,
      validation_command: `cd ${idA} && node ../../check.mjs m.json`,
      to_packets: [g.packet_id],
    });
    expect(m.fanout).toEqual({
      role: "item",
      template: "measure",
      template_digest: digest(measure),
      first: "measure",
      key: "docs/a.md",
      item: items[0],
      item_digest: digest(items[0]),
      source_packet: "list",
      reduce: "report",
    });
    // prose outputs are not files: they keep their names
    expect(m.outputs.slice(1)).toEqual([{ artifact: "a short note" }, { artifact: "nothing" }]);
    expect(g.depends_on).toEqual([m.packet_id]);
    expect(g.inputs).toEqual([
      { artifact: "m.json", from_packet: m.packet_id, format: "json", required_fields: ["words"] },
    ]);
    expect(g.outputs[0]?.to_packets).toEqual(["report"]);

    const ev = x.events[0];
    if (ev?.type !== "fanout.expanded") throw new Error("no event");
    expect(ev.data.packets.map((p) => [p.packet_id, p.template, p.digest])).toEqual(
      x.packets.map((p) => [
        p.packet.packet_id,
        p.packet.fanout?.role === "item" ? p.packet.fanout.template : "",
        p.digest,
      ]),
    );
    expect(ev.data.files).toEqual(x.files.map((f) => ({ path: f.path, digest: digestBytes(f.text) })));
    expect(ev.data.handoff).toEqual({ artifact: "items.json", digest: source(items).digest, items: 2 });

    // the same source gives the same bytes
    const again = expandFanout({ state: new Driver(run).state, templates, source: source(items) });
    expect(JSON.stringify(again)).toBe(JSON.stringify(x));

    // written atomically, readable and schema-valid
    const tmp = makeTempDir("dwm-fanout-");
    try {
      writeFanoutFiles(tmp.path, x.files);
      const p0 = x.packets[0] as { packet: Packet; digest: Digest };
      expect(
        readArtifact<Packet>(path.join(tmp.path, `packets/${idA}.json`), "packet", {
          expectDigest: p0.digest,
        }).value,
      ).toEqual(p0.packet);
      expect(fs.readdirSync(path.join(tmp.path, "packets/measure")).sort()).toHaveLength(2);
    } finally {
      tmp.cleanup();
    }
  });

  it("re-expanding keeps unchanged items, adds changed and new ones, and drops removed ones", () => {
    const d = new Driver(run);
    const x1 = expandFanout({ state: d.state, templates, source: source(items) });
    if (x1.kind !== "expanded") throw new Error(x1.kind);
    d.apply(...x1.events);
    const next = [items[0], { id: "b", path: "docs/b.md", extra: 2 }, { id: "c", path: "docs/c.md" }];
    const x2 = expandFanout({ state: d.state, templates, source: source(next) });
    if (x2.kind !== "expanded") throw new Error(x2.kind);
    const b1 = `b-${digest(items[1]).slice(7, 15)}`;
    expect(x2.dropped).toEqual([`measure/${b1}`, `grade/${b1}`]);
    // files only for new or changed packets: items b (changed) and c (new), two phases each
    expect(x2.files.map((f) => f.path)).toHaveLength(4);
    expect(x2.files.some((f) => f.path.includes("docs-a.md"))).toBe(false);
    d.apply(...x2.events);
    expect(d.state.packets[`measure/${b1}`]).toBeUndefined();
    expect(Object.keys(d.state.packets).filter((k) => k.startsWith("grade/"))).toHaveLength(3);
  });

  it("stops at max_items without an approved gate, naming the count; never truncates", () => {
    const four = [1, 2, 3, 4].map((i) => ({ id: `k${i}`, path: `p${i}` }));
    const d = new Driver(run);
    const x = expandFanout({ state: d.state, templates, source: source(four) });
    expect(x).toEqual({ kind: "over-limit", items: 4, max_items: 3 });
    const gate = fanoutLimitGate(measure, source(four), 4, 1);
    expect(validateSchema("gate", gate).problems).toEqual([]);
    expect(gate.gate_id).toBe("fanout-limit/measure/1");
    expect(gate.trigger).toContain("listed 4 items");
    expect(gate.packets).toEqual(["list"]);
    const y = expandFanout({ state: d.state, templates, source: source(four), limitGate: gate.gate_id });
    expect(y.kind === "expanded" && y.packets.length).toBe(8);
  });

  it("refuses a bad source with a coded failure of the fan-out, not a crash", () => {
    const d = new Driver(run);
    const cases: [unknown, string][] = [
      ["not json", "does not parse"],
      [{ id: "x" }, "not a JSON list"],
      [[1], "item 0 is not an object"],
      [[{ id: "a" }], "item 0 lacks path"],
      [[{ id: { x: 1 }, path: "p" }], "key id is not a string"],
      [
        [
          { id: "a", path: "p" },
          { id: "a", path: "q" },
        ],
        "same id",
      ],
    ];
    for (const [v, words] of cases) {
      const x = expandFanout({ state: d.state, templates, source: source(v) });
      expect(x.kind).toBe("invalid");
      if (x.kind !== "invalid") continue;
      expect(x.reason).toMatch(/^ERR_INGEST_FANOUT_INVALID: /);
      expect(x.reason).toContain(words);
      expect(x.events).toEqual([{ type: "packet.failed", data: { packet_id: "measure", reason: x.reason } }]);
    }
  });

  it("reads JSON Lines sources and slugs unsafe keys", () => {
    const jsonl = packet("measure", {
      ...measure,
      inputs: [{ artifact: "items.json", from_packet: "list", format: "jsonl", required_fields: ["id"] }],
    });
    const t = [{ packet: jsonl, digest: digest(jsonl) }, templates[1] as FanoutTemplate];
    const x = expandFanout({
      state: new Driver(run).state,
      templates: t,
      source: source('{"id":"../../etc/passwd"}\n\n{"id":7}\n'),
    });
    if (x.kind !== "expanded") throw new Error(x.kind);
    const ids = x.packets.map((p) => p.packet.packet_id).filter((id) => id.startsWith("measure/"));
    expect(ids[0]).toMatch(/^measure\/etc-passwd-[0-9a-f]{8}$/);
    expect(ids[1]).toMatch(/^measure\/7-[0-9a-f]{8}$/);
    expect(fanoutItemId("p", "%%%", digest(1))).toMatch(/^p\/item-[0-9a-f]{8}$/);
  });

  it("hands the reduce every item's handoff as one list", () => {
    const x = expandFanout({ state: new Driver(run).state, templates, source: source(items) });
    if (x.kind !== "expanded") throw new Error(x.kind);
    const grades = x.packets.filter((p) => p.packet.packet_id.startsWith("grade/"));
    const text = reduceList([
      { packet: (grades[0] as { packet: Packet }).packet, bytes: bytes({ grade: "A" }) },
      { packet: (grades[1] as { packet: Packet }).packet, bytes: Buffer.from("plain text") },
    ]);
    expect(JSON.parse(text)).toEqual([
      { key: "docs/a.md", packet_id: grades[0]?.packet.packet_id, item: items[0], handoff: { grade: "A" } },
      { key: "b", packet_id: grades[1]?.packet.packet_id, item: items[1], handoff: "plain text" },
    ]);
  });
});
