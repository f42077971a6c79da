import { createHash } from "node:crypto";
import fc from "fast-check";
import { canonicalize } from "json-canonicalize";
import { describe, expect, it } from "vitest";
import {
  canonicalArtifact,
  canonicalJson,
  digest,
  digestBytes,
  isDigest,
  renderArtifact,
  shortDigest,
} from "./canonical.js";

// Golden vectors: expected strings follow RFC 8785 by hand, digests come from `sha256sum`.
const vectors: [string, unknown, string][] = [
  ["key order", { b: 1, a: 2, c: { z: null, y: [] } }, '{"a":2,"b":1,"c":{"y":[],"z":null}}'],
  ["1.0 is 1", { n: 1.0 }, '{"n":1}'],
  ["1e21 keeps exponent", [1e21], "[1e+21]"],
  ["1e20 is written out", [1e20], "[100000000000000000000]"],
  ["-0 is 0", [-0], "[0]"],
  ["small fraction", [0.1, 1e-7, -2.5], "[0.1,1e-7,-2.5]"],
  ["unicode stays literal", ["€", "😀", "é"], '["€","😀","é"]'],
  ["controls are escaped", ['\n\t\u000f\u001f"\\'], '["\\n\\t\\u000f\\u001f\\"\\\\"]'],
  ["keys sort by UTF-16 code units", { "😀": 1, "€": 2, a: 3, B: 4 }, '{"B":4,"a":3,"€":2,"😀":1}'],
  ["nested arrays", [[1, [2, [3, { b: 1, a: [] }]]]], '[[1,[2,[3,{"a":[],"b":1}]]]]'],
  ["slash not escaped", ["a/b"], '["a/b"]'],
  // Array-index keys come first in a JS object's own order; JCS sorts them as strings.
  ["index-like keys sort as strings", { "9": 1, "10": 2, a: 3, "": 4 }, '{"":4,"10":2,"9":1,"a":3}'],
  [
    "__proto__ as a plain key",
    JSON.parse('{"b":1,"__proto__":{"y":1,"x":2}}'),
    '{"__proto__":{"x":2,"y":1},"b":1}',
  ],
  [
    "sorted parent, unsorted child",
    { a: [{ d: 1, c: [2, { f: 0, e: 1 }] }], b: {} },
    '{"a":[{"c":[2,{"e":1,"f":0}],"d":1}],"b":{}}',
  ],
  ["lone surrogate escaped", ["\ud800x"], '["\\ud800x"]'],
];

/** A large document with unsorted keys, unicode, escapes and numbers; `indexKeys` adds array-index keys. */
function bigDocument(n: number, indexKeys: boolean): unknown {
  const phases = [];
  for (let i = 0; i < n; i++) {
    phases.push({
      name: `Phase ${i} — ${"é€😀"[i % 3]}`,
      id: `p${i}`,
      depends_on: i === 0 ? [] : [`p${i - 1}`],
      ...(indexKeys ? { "10": i, "9": -i / 7 } : { b10: i, b9: -i / 7 }),
      "": i % 2 === 0,
      budget: { tokens: i * 1000, ratio: i / 3, big: 1e21 + i, small: 1e-7 * i },
      notes: i % 5 === 0 ? null : ["line\nbreak", 'quote"', "tab\t", "\u0001ctl"],
    });
  }
  return { schema_version: "0.6", plan_id: "golden", phases, z: { y: { x: [[], {}, [{}]] } } };
}

const sha256 = (s: string) => `sha256:${createHash("sha256").update(s).digest("hex")}`;

describe("canonicalJson", () => {
  it.each(vectors)("%s", (_name, value, expected) => {
    expect(canonicalJson(value)).toBe(expected);
  });

  it("refuses values JSON cannot carry", () => {
    expect(() => canonicalJson({ a: undefined })).toThrow(/undefined/);
    expect(() => canonicalJson([Number.NaN])).toThrow(/non-finite/);
    expect(() => canonicalJson([Number.POSITIVE_INFINITY])).toThrow(/non-finite/);
    expect(() => canonicalJson({ d: new Date(0) })).toThrow(/plain object/);
    expect(() => canonicalJson(() => 1)).toThrow(/function/);
  });
});

describe("large documents: golden digests from json-canonicalize 3.0.1 (the canonicaliser before 0.3)", () => {
  it.each([
    [
      "keys JSON.stringify keeps in place",
      false,
      "sha256:1292794c9d8d82af1aee712492c7e8a6a5a003cb23eeb1f318cd853d06a4de70",
      "sha256:e972bb7b2de3c2b72b7708b74575c2c864489c0aec0ec72b4f76f29b916bfe84",
    ],
    [
      "array-index keys",
      true,
      "sha256:ec56b97c63adbe6ef14ccebe9ff302727a945eca389160ea6dbfd07ff30f4bee",
      "sha256:e488c51bc04e94ba9c55e453e19034aff23abfbcfabfe0f856f06045a2d0f352",
    ],
  ])("%s", (_name, indexKeys, canonicalDigest, renderedDigest) => {
    const doc = bigDocument(500, indexKeys);
    expect(digest(doc)).toBe(canonicalDigest);
    expect(sha256(renderArtifact(doc))).toBe(renderedDigest);
    const a = canonicalArtifact(doc);
    expect(a.digest).toBe(canonicalDigest);
    expect(sha256(a.rendered)).toBe(renderedDigest);
    expect(a.canonical).toBe(canonicalJson(doc));
    // Parsed back from its canonical form (sorted objects: the path without copies).
    expect(digest(JSON.parse(a.canonical))).toBe(canonicalDigest);
  });

  it("an own toJSON key keeps json-canonicalize's output (that object as JSON.stringify writes it)", () => {
    const v = { b: 1, toJSON: "x", a: { d: 1, c: 2 } };
    expect(canonicalJson(v)).toBe('{"b":1,"toJSON":"x","a":{"d":1,"c":2}}');
    expect(renderArtifact(v)).toBe(`${JSON.stringify(JSON.parse(canonicalJson(v)), null, 2)}\n`);
  });

  it("equal json-canonicalize, and the rendering its parse-and-indent, on any JSON value (property)", () => {
    const key = fc.oneof(fc.string(), fc.constantFrom("0", "7", "10", "01", "__proto__", "a", "B"));
    const { tree } = fc.letrec((tie) => ({
      tree: fc.oneof(
        { depthSize: "small" },
        fc.jsonValue({ maxDepth: 1 }),
        fc.array(tie("tree"), { maxLength: 4 }),
        fc.dictionary(key, tie("tree"), { maxKeys: 5 }).map((d) => JSON.parse(JSON.stringify(d))),
      ),
    }));
    fc.assert(
      fc.property(tree, (v) => {
        const expected = canonicalize(v);
        expect(canonicalJson(v)).toBe(expected);
        expect(renderArtifact(v)).toBe(`${JSON.stringify(JSON.parse(expected), null, 2)}\n`);
      }),
      { numRuns: 500 },
    );
  });
});

describe("digest", () => {
  it("matches sha256sum of the canonical bytes", () => {
    expect(digest({ a: 1 })).toBe("sha256:015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862");
    expect(digest({ "€": "😀", a: [1, "x", null, true, false, { b: 0 }], "": "" })).toBe(
      "sha256:141060b58cdbfb2b369544e8fe25af13a86537a54d416f5dc18d0f480beaa498",
    );
  });

  it("hashes raw bytes for text", () => {
    expect(digestBytes('{"a":1}')).toBe(digest({ a: 1 }));
    expect(isDigest(digestBytes(""))).toBe(true);
    expect(shortDigest(digest({ a: 1 }))).toBe("015abd7f5cc5");
  });

  it("never depends on key order (property)", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (obj) => {
        const reversed = Object.fromEntries(Object.entries(obj).reverse());
        const shuffled = Object.fromEntries(Object.entries(obj).sort(() => 0.5 - Math.random()));
        const d = digest(obj);
        expect(digest(reversed)).toBe(d);
        expect(digest(shuffled)).toBe(d);
      }),
      { numRuns: 300 },
    );
  });

  it("round-trips through JSON.parse to the same digest (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(digest(JSON.parse(canonicalJson(v)))).toBe(digest(v));
      }),
      { numRuns: 300 },
    );
  });
});
