import fs from "node:fs";
import path from "node:path";
import { makeTempDir } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { storeLeftovers } from "./leftovers.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function tempStore(): { dir: string; put: (rel: string) => void } {
  const t = makeTempDir("dwm-leftovers-");
  cleanups.push(t.cleanup);
  const put = (rel: string) => {
    fs.mkdirSync(path.dirname(path.join(t.path, rel)), { recursive: true });
    fs.writeFileSync(path.join(t.path, rel), "x");
  };
  return { dir: t.path, put };
}

describe("temp files of atomic writes", () => {
  // (moved from the dispatcher's copy of this rule, which the run loop no longer has)
  it("are found anywhere in the store, approvals/ included, with their writer's pid; other dot files are not", () => {
    const { dir, put } = tempStore();
    put(".state.json.4242.0123abcd.tmp");
    put("reviews/scan/.1.json.77.deadbeef.tmp");
    put("approvals/human-gate/.1.json.12.0123abcd.tmp");
    put("reviews/scan/1.json");
    put("reviews/scan/.1.json.tmp"); // not the atomic-write pattern
    put("attempts/scan/1/.x.12.ABCDEF01.tmp"); // upper-case hex: not ours
    const found = storeLeftovers(dir, null).map((l) => [l.kind, l.path, l.pid]);
    expect(found.sort()).toEqual([
      ["temp-file", ".state.json.4242.0123abcd.tmp", 4242],
      ["temp-file", "approvals/human-gate/.1.json.12.0123abcd.tmp", 12],
      ["temp-file", "reviews/scan/.1.json.77.deadbeef.tmp", 77],
    ]);
  });
});
