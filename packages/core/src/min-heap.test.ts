import { describe, expect, it } from "vitest";
import { MinHeap } from "./min-heap.js";

describe("MinHeap", () => {
  it("gives back what it was given in ascending order, duplicates included", () => {
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % 1000;
    };
    const h = new MinHeap();
    const xs = Array.from({ length: 2000 }, next);
    for (const x of xs) h.push(x);
    expect(h.size).toBe(2000);
    const out: number[] = [];
    for (let v = h.pop(); v !== undefined; v = h.pop()) out.push(v);
    expect(out).toEqual([...xs].sort((a, b) => a - b));
    expect(h.pop()).toBeUndefined();
    h.push(3);
    h.clear();
    expect(h.size).toBe(0);
  });
});
