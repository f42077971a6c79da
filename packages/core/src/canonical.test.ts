import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson, digest, digestBytes, isDigest, shortDigest } from "./canonical.js";

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
];

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
