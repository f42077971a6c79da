import { digest } from "@dwm/core";
import type { PacketFanoutTemplate } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import { itemPacket, parseItems } from "./expand-fanout.js";
import { packet } from "./test-support/run.js";

const bytes = (text: string) => Buffer.from(text);

describe("parseItems: the items of a fan-out's list, or why there are none", () => {
  it("reads a JSON list and JSON Lines; the key is the item's field as a string", () => {
    const a = { id: "a", path: "x" };
    const b = { id: 7, path: "y" };
    expect(parseItems(bytes(JSON.stringify([a, b])), "json-list", "id", ["id", "path"])).toEqual({
      items: [
        { value: a, key: "a", digest: digest(a) },
        { value: b, key: "7", digest: digest(b) },
      ],
    });
    expect(
      parseItems(bytes(`${JSON.stringify(a)}\n\n  ${JSON.stringify(b)}  \n`), "jsonl", "id", []),
    ).toEqual(parseItems(bytes(JSON.stringify([a, b])), "json-list", "id", []));
    expect(parseItems(bytes("[]"), "json-list", "id", [])).toEqual({ items: [] });
  });

  it("names the first problem: unreadable, not a list, not an object, a field missing, a bad or repeated key", () => {
    const problem = (text: string, format = "json-list", required: string[] = ["id"]) => {
      const r = parseItems(bytes(text), format, "id", required);
      return "problem" in r ? r.problem : null;
    };
    expect(problem("{")).toMatch(/^it does not parse as JSON: /);
    expect(problem('{"id":1}\n{', "jsonl")).toMatch(/^it does not parse as JSON Lines: /);
    expect(problem('{"id":1}')).toBe("it is not a JSON list");
    expect(problem('[{"id":1}, [1]]')).toBe("item 1 is not an object");
    expect(problem('[{"id":1}, null]')).toBe("item 1 is not an object");
    expect(problem('[{"id":1,"path":null}]', "json-list", ["id", "path"])).toBe("item 0 lacks path");
    expect(problem('[{"id":{"x":1}}]')).toBe("item 0: key id is not a string, number or boolean");
    expect(problem('[{"id":"  "}]')).toBe("item 0: key id is empty");
    expect(problem('[{"id":1},{"id":2},{"id":"1"}]')).toBe('items 0 and 2 have the same id "1"');
    expect(problem('[{"id":true},{"id":false}]')).toBeNull();
  });
});

describe("itemPacket: one item's packet of one per-item phase", () => {
  const fo: PacketFanoutTemplate = {
    role: "template",
    over: "items.json",
    key: "id",
    max_items: 3,
    source_packet: "list",
    first: "measure",
    position: 1,
    pipeline: ["measure", "grade"],
    reduce: "report",
  };
  const grade = packet("grade", {
    depends_on: ["measure", "setup"],
    inputs: [
      { artifact: "items.json", from_packet: "list", format: "json-list", required_fields: ["id"] },
      { artifact: "m.json", from_packet: "measure", format: "json", required_fields: ["words"] },
      { artifact: "cfg.json", from_packet: "setup", format: "json", required_fields: [] },
    ],
    outputs: [
      { artifact: "g.json", format: "json", required_fields: ["grade"], to_packets: ["report", "measure"] },
    ],
    fanout: fo,
  });
  const item = { value: { id: "a" }, key: "a", digest: digest({ id: "a" }) };
  const ids = (phase: string) => (phase === "measure" || phase === "grade" ? `${phase}/a-1` : null);

  it("renames the phase's packets to the item's, keeps every other, drops the source input", () => {
    const p = itemPacket({ packet: grade, digest: digest(grade) }, fo, item, ids);
    expect(p.packet_id).toBe("grade/a-1");
    expect(p.depends_on).toEqual(["measure/a-1", "setup"]);
    expect(p.inputs).toEqual([
      { artifact: "m.json", from_packet: "measure/a-1", format: "json", required_fields: ["words"] },
      { artifact: "cfg.json", from_packet: "setup", format: "json", required_fields: [] },
    ]);
    expect(p.outputs).toEqual([
      {
        artifact: "grade/a-1/g.json",
        format: "json",
        required_fields: ["grade"],
        to_packets: ["report", "measure/a-1"],
      },
    ]);
    expect(p.fanout).toEqual({
      role: "item",
      template: "grade",
      template_digest: digest(grade),
      first: "measure",
      key: "a",
      item: { id: "a" },
      item_digest: digest({ id: "a" }),
      source_packet: "list",
      reduce: "report",
    });
    // The template is shared, never changed.
    expect(grade.packet_id).toBe("grade");
    expect(grade.inputs).toHaveLength(3);
  });
});
