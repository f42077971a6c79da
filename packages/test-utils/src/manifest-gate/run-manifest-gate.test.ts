import fs from "node:fs";
import path from "node:path";
import { DwmError, digest } from "@dwm/core";
import { validateSchema } from "@dwm/schemas";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTempDir, type TempDir } from "../temp.js";
import { applyEdits, scrubPaths, tamperFiles, treeDigests } from "./fixture-files.js";
import { GATE_SUMMARY_FILE, runGateCli, summaryLine } from "./gate-cli.js";
import { HistoryPlayer } from "./history.js";
import { type GateCase, type GateSuite, runManifestGate } from "./run-manifest-gate.js";

interface AddCase extends GateCase {
  a: number;
  b: number;
}

/** A toy stage: adds two numbers, refuses negative ones with a coded error. */
const addGate: GateSuite<AddCase> = {
  name: "add",
  caseKeys: ["a", "b"],
  minCases: 2,
  async runCase(c, ctx) {
    const sum = await ctx.outcome(() => {
      if (c.a < 0 || c.b < 0) throw new DwmError("ERR_ADD_NEGATIVE", "negative");
      return c.a + c.b;
    });
    if (sum === undefined) return;
    ctx.checkAll({ sum, even: sum % 2 === 0 });
    ctx.golden("sum", digest(sum));
  },
};

let tmp: TempDir;
beforeEach(() => {
  tmp = makeTempDir("dwm-gate-engine-");
});
afterEach(() => tmp.cleanup());

function manifest(cases: unknown[]): string {
  const file = path.join(tmp.path, "manifest.json");
  fs.writeFileSync(file, `${JSON.stringify({ suite_id: "add", cases }, null, 2)}\n`);
  return file;
}

const good = [
  { id: "two-and-two", a: 2, b: 2, expect: { sum: 4, digests: { sum: digest(4) } } },
  { id: "negative-is-refused", a: -1, b: 2, expect: { error: "ERR_ADD_NEGATIVE" } },
];

describe("runManifestGate", () => {
  it("keeps a manifest whose every case matches, in a valid manifest-summary", async () => {
    const s = await runManifestGate(manifest(good), addGate);
    expect(validateSchema("manifest-summary", s).problems).toEqual([]);
    expect(s).toMatchObject({ suite_id: "add", case_count: 2, passed: 2, failed: 0, decision: "keep" });
  });

  it("kills on a wrong value, a wrong digest, a missing golden, a wrong or missing error", async () => {
    const s = await runManifestGate(
      manifest([
        { id: "wrong-sum", a: 2, b: 2, expect: { sum: 5, digests: { sum: digest(4) } } },
        { id: "wrong-digest", a: 2, b: 2, expect: { sum: 4, digests: { sum: digest(5) } } },
        { id: "no-golden", a: 1, b: 2, expect: { sum: 3 } },
        { id: "wrong-error", a: -1, b: 2, expect: { error: "ERR_ADD_OTHER" } },
        { id: "no-error", a: 1, b: 1, expect: { error: "ERR_ADD_NEGATIVE" } },
      ]),
      addGate,
    );
    expect(s.decision).toBe("kill");
    expect(s.passed).toBe(0);
    const byId = Object.fromEntries(s.failures.map((f) => [f.id, f.message]));
    expect(byId["wrong-sum"]).toBe("sum: expected 5, got 4");
    expect(byId["wrong-digest"]).toBe(`digest of sum: expected ${digest(5)}, got ${digest(4)}`);
    expect(byId["no-golden"]).toContain("no golden digest for sum");
    expect(byId["wrong-error"]).toBe('error: expected "ERR_ADD_OTHER", got ERR_ADD_NEGATIVE: negative');
    expect(byId["no-error"]).toContain('error: expected "ERR_ADD_NEGATIVE", got none');
  });

  it("kills a case whose expectation nobody checks, so a typo cannot pass", async () => {
    const s = await runManifestGate(
      manifest([
        ...good,
        { id: "typo", a: 1, b: 1, expect: { summ: 2, digests: { sum: digest(2), total: "x" } } },
      ]),
      addGate,
    );
    expect(s.failures).toEqual([
      {
        id: "typo",
        message:
          "expect.summ was never checked (not a key this gate knows, or the case stopped early); golden digest total names no output",
      },
    ]);
  });

  it("kills bad cases and manifests without running them: shape, duplicates, unknown keys, too few", async () => {
    const s = await runManifestGate(
      manifest([
        good[0],
        good[0],
        { id: "Bad Id", a: 1, b: 1, expect: { sum: 2 } },
        { id: "extra-key", a: 1, b: 1, c: 3, expect: { sum: 2 } },
        { id: "expects-nothing", a: 1, b: 1, expect: {} },
      ]),
      { ...addGate, minCases: 10 },
    );
    expect(s.failures.map((f) => `${f.id}: ${f.message}`)).toEqual([
      "two-and-two: duplicate case id",
      "Bad Id: a case needs an id of [a-z0-9._-]",
      "extra-key: unknown case keys: c",
      "expects-nothing: a case must expect something",
      "manifest: 5 case(s); this gate needs at least 10",
    ]);
    const unreadable = await runManifestGate(path.join(tmp.path, "none.json"), addGate);
    expect(unreadable.decision).toBe("kill");
    expect(unreadable.failures[0]?.id).toBe("manifest");
  });

  it("turns a crash or a hang of the driver into a failed case", async () => {
    const s = await runManifestGate<AddCase>(manifest(good), {
      ...addGate,
      caseTimeoutMs: 50,
      runCase: (c) => (c.a < 0 ? new Promise<void>(() => {}) : Promise.reject(new Error("driver bug"))),
    });
    expect(s.failures).toEqual([
      { id: "two-and-two", message: "threw driver bug" },
      { id: "negative-is-refused", message: "threw the case took longer than 50 ms" },
    ]);
  });

  it("records the produced digests into the manifest with record, and then keeps", async () => {
    const file = manifest([
      { id: "three", a: 1, b: 2, expect: { sum: 3, digests: { sum: "stale", old: "x" } } },
    ]);
    const recorded = await runManifestGate(file, { ...addGate, minCases: 1 }, { record: true });
    expect(recorded.decision).toBe("keep");
    const m = JSON.parse(fs.readFileSync(file, "utf8"));
    expect(m.cases[0].expect.digests).toEqual({ sum: digest(3) });
    expect((await runManifestGate(file, { ...addGate, minCases: 1 })).decision).toBe("keep");
  });
});

describe("gate fixture helpers", () => {
  it("applyEdits sets, removes and pushes by pointer on a copy", () => {
    const v = { a: { "b/c": [1] }, d: 1 };
    expect(
      applyEdits(v, [
        { op: "push", path: "/a/b~1c", value: 2 },
        { op: "remove", path: "/d" },
        { op: "set", path: "/e", value: null },
      ]),
    ).toEqual({ a: { "b/c": [1, 2] }, e: null });
    expect(v).toEqual({ a: { "b/c": [1] }, d: 1 });
  });

  it("tamperFiles changes files as a case lists, and treeDigests sees every change", () => {
    fs.writeFileSync(path.join(tmp.path, "a.txt"), "one\ntwo\nthree\n");
    fs.writeFileSync(path.join(tmp.path, "b.json"), '{"x":1}');
    const before = treeDigests(tmp.path);
    tamperFiles(tmp.path, [
      { file: "a.txt", drop_line: 2 },
      { file: "b.json", edit: [{ op: "set", path: "/x", value: 2 }] },
      { file: "c/d.txt", write: "new\n" },
    ]);
    expect(fs.readFileSync(path.join(tmp.path, "a.txt"), "utf8")).toBe("one\nthree\n");
    expect(fs.readFileSync(path.join(tmp.path, "b.json"), "utf8")).toBe('{\n  "x": 2\n}\n');
    const after = treeDigests(tmp.path);
    expect(Object.keys(after)).toEqual(["a.txt", "b.json", "c/d.txt"]);
    expect(after["a.txt"]).not.toBe(before["a.txt"]);
    expect(() => tamperFiles(tmp.path, [{ file: "a.txt", replace: ["absent", "x"] }])).toThrow(
      "does not contain",
    );
  });

  it("scrubPaths replaces temporary paths in keys and values, longest first", () => {
    expect(
      scrubPaths(
        { [`${tmp.path}/x`]: [`${tmp.path}/repo/y`] },
        { "<tmp>": tmp.path, "<repo>": `${tmp.path}/repo` },
      ),
    ).toEqual({
      "<tmp>/x": ["<repo>/y"],
    });
  });
});

describe("HistoryPlayer", () => {
  const run = {
    packets: [{ packet_id: "a", digest: digest("a") }],
    gates: [{ gate_id: "g", digest: digest("g") }],
  };

  it("expands steps into journal drafts, counting attempts per packet", () => {
    const p = new HistoryPlayer(run, { gatePackets: () => ["a"] });
    const types = p.expand(["done a", "open g", "reject g a", "reopen a redo", "dispatch a"]).map((d) => {
      const data = d.data as { attempt?: number };
      return `${d.type}${data.attempt === undefined ? "" : `#${data.attempt}`}`;
    });
    expect(types).toEqual([
      "packet.dispatched#1",
      "attempt.recorded#1",
      "packet.reviewed#1",
      "packet.completed#1",
      "gate.opened",
      "gate.rejected",
      "packet.reopened",
      "packet.dispatched#2",
    ]);
  });

  it("fills @packet, @gate and @digest in raw drafts, and refuses an unknown step", () => {
    const p = new HistoryPlayer(run);
    const [d] = p.expand([{ type: "x", data: { p: "@packet:a", g: "@gate:g", t: "@digest:t", n: [1] } }]);
    expect(d?.data).toEqual({ p: digest("a"), g: digest("g"), t: digest("t"), n: [1] });
    expect(() => p.expand(["teleport a"])).toThrow('unknown history step "teleport a"');
  });

  it("writes evidence files through putFile and names them in the events", () => {
    const written: string[] = [];
    const p = new HistoryPlayer(run, {
      putFile: (rel, content) => {
        written.push(rel);
        return { path: rel, digest: digest(content) };
      },
    });
    const events = p.events(["done a", "approve g"]);
    // With files written, a completed packet is attested and the approval is a signed bundle, as DWM writes them.
    expect(written).toEqual([
      "attempts/a/1/attempt.json",
      "reviews/a/1.json",
      "attestations/packets/a/1.json",
      "approvals/g/1.json",
    ]);
    expect(events.map((e) => e.type)).toEqual([
      "packet.dispatched",
      "attempt.recorded",
      "packet.reviewed",
      "packet.completed",
      "attestation.recorded",
      "gate.approved",
    ]);
    expect(events[5]?.prev).toBe(digest("event 5"));
  });
});

describe("runGateCli", () => {
  it("writes gate-summary.json, returns 0 for keep and 1 for kill, and leaves no stale summary on a crash", async () => {
    const file = manifest(good);
    const out = path.join(tmp.path, GATE_SUMMARY_FILE);
    const run = (m: string) => runManifestGate(m, addGate);
    expect(await runGateCli({ name: "add", packageDir: tmp.path, manifest: file, run, argv: [] })).toBe(0);
    expect(JSON.parse(fs.readFileSync(out, "utf8"))).toMatchObject({ kind: "manifest-summary", passed: 2 });
    const broken = manifest([{ ...good[0], expect: { sum: 5 } }, good[1]]);
    expect(await runGateCli({ name: "add", packageDir: tmp.path, manifest: broken, run, argv: [] })).toBe(1);
    expect(JSON.parse(fs.readFileSync(out, "utf8")).decision).toBe("kill");
    const crash = () => Promise.reject(new Error("boom"));
    await expect(
      runGateCli({ name: "add", packageDir: tmp.path, manifest: file, run: crash, argv: [] }),
    ).rejects.toThrow("boom");
    expect(fs.existsSync(out)).toBe(false);
  });

  it("prints one keep/kill line with the case count", () => {
    const s = { suite_id: "add", passed: 2, case_count: 3, failed: 1, skipped: 0, decision: "kill" } as const;
    expect(summaryLine("add", s as never)).toBe("add manifest add: 2/3 passed, 1 failed, 0 skipped → kill");
  });
});
