import { describe, expect, it } from "vitest";
import { gitDate } from "./git-date.js";

describe("gitDate", () => {
  it("gives whole Unix seconds in UTC, rounding down", () => {
    expect(gitDate("2026-01-01T00:00:00.000Z")).toBe("1767225600 +0000");
    expect(gitDate("2026-01-01T00:00:00.999Z")).toBe("1767225600 +0000");
    expect(gitDate("1970-01-01T00:00:01.000Z")).toBe("1 +0000");
  });

  it("converts an offset time to UTC", () => {
    expect(gitDate("2026-01-01T01:00:00+01:00")).toBe("1767225600 +0000");
  });

  it("refuses a string that is not a time instead of handing git NaN", () => {
    expect(() => gitDate("yesterday")).toThrow(RangeError);
    expect(() => gitDate("")).toThrow(/is not an RFC 3339 time/);
  });
});
