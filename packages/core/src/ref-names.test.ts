import { describe, expect, it } from "vitest";
import { packetRefPath, refSegment } from "./ref-names.js";

describe("ref names", () => {
  it("refSegment: `..` folded, a trailing `.lock` or `.` renamed, everything else as it is", () => {
    expect(
      [
        "plan-0123",
        "a..b",
        "a...b",
        "x.lock",
        "x.",
        "a..lock",
        "r..x.lock",
        "..",
        "x.lock.",
        "ok.locked",
      ].map(refSegment),
    ).toEqual(["plan-0123", "a.b", "a.b", "x-lock", "x-", "a-lock", "r.x-lock", "-", "x.lock-", "ok.locked"]);
  });

  it("packetRefPath: each segment of a fan-out id made ref-safe", () => {
    expect(packetRefPath("scan")).toBe("scan");
    expect(packetRefPath("fan/item-a..b.lock")).toBe("fan/item-a.b-lock");
    expect(packetRefPath("p..q/x.lock/y.")).toBe("p.q/x-lock/y-");
  });
});
