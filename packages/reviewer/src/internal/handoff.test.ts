import { describe, expect, it } from "vitest";
import { checkHandoff } from "./handoff.js";

const routes = [
  { route: "/a", method: "GET" },
  { route: "/b" },
  { route: null, method: "POST" },
  "not an object",
];

describe("checkHandoff: list handoffs", () => {
  it("json-list: every item must be an object with every field set; offending items are named", () => {
    const hc = checkHandoff("json-list", JSON.stringify(routes.slice(0, 3)), ["route", "method"]);
    expect(hc.formatError).toBeNull();
    expect(hc.missing).toEqual(["route", "method"]);
    expect(hc.items).toEqual([
      { at: "item [1]", missing: ["method"], notObject: false, excerpt: '{"route":"/b"}' },
      { at: "item [2]", missing: ["route"], notObject: false, excerpt: '{"route":null,"method":"POST"}' },
    ]);
  });

  it("json-list: an item that is not an object, or a value that is not a list, is a format error", () => {
    const hc = checkHandoff("json-list", JSON.stringify(routes), ["route"]);
    expect(hc.formatError).toBe("item [3] is not a JSON object");
    expect(hc.items.map((p) => p.at)).toEqual(["item [2]", "item [3]"]);
    expect(checkHandoff("json-list", '{"route":"/a"}', ["route"]).formatError).toBe(
      "a json-list handoff must be one JSON array of objects",
    );
    expect(checkHandoff("json-list", "[", ["route"]).formatError).toMatch(/^not valid JSON: /);
  });

  it("json-list: an empty list passes (a fan-out over it expands nothing); a full one passes", () => {
    expect(checkHandoff("json-list", "[]", ["route"])).toMatchObject({
      formatError: null,
      missing: [],
      items: [],
    });
    expect(
      checkHandoff("json-list", JSON.stringify(routes.slice(0, 1)), ["route", "method"]).missing,
    ).toEqual([]);
  });

  it("json-list: inherited names are not fields (a bare object still lacks toString)", () => {
    expect(checkHandoff("json-list", '[{"a":1}]', ["toString"]).missing).toEqual(["toString"]);
  });

  it("jsonl: items are named by line; a line that does not parse is a format error", () => {
    const text = '{"route":"/a","method":"GET"}\n\n{"route":"/b"}\n';
    const hc = checkHandoff("jsonl", text, ["route", "method"]);
    expect(hc.formatError).toBeNull();
    expect(hc.items.map((p) => `${p.at}:${p.missing.join(",")}`)).toEqual(["line 3:method"]);
    expect(checkHandoff("jsonl", '{"route":"/a"}\n{oops\n', ["route"]).formatError).toMatch(
      /^line 2 is not valid JSON: /,
    );
  });

  it("json arrays name their offending items too, with dotted paths as before", () => {
    const hc = checkHandoff("json", '[{"id":1,"meta":{"owner":"a"}},{"id":2,"meta":{}}]', [
      "id",
      "meta.owner",
    ]);
    expect(hc.missing).toEqual(["meta.owner"]);
    expect(hc.items.map((p) => `${p.at}:${p.missing.join(",")}`)).toEqual(["item [1]:meta.owner"]);
  });
});
