import fs from "node:fs";
import path from "node:path";
import type { RunState } from "@dwm/schemas";
import { FakeClock, makeTempDir } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { openJournal, readJournal } from "./journal.js";
import { storeLeftovers } from "./leftovers.js";
import { dispatchPacket } from "./test-support/drive.js";
import { makeRunStore, type TestRunStore } from "./test-support/run-store.js";
import { TRUST } from "./test-support/sign.js";
import { verifyRun } from "./verify.js";

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

const open = (s: TestRunStore) =>
  openJournal(s.runDir, { clock: new FakeClock("2026-01-01T00:00:00.000Z", 1000), pid: 1, host: "h" });
const problems = (s: TestRunStore) =>
  verifyRun(s.runDir, { trust: TRUST }).problems.map((p) => [p.code, p.file, p.repairable]);

/** A store whose packet `review` has attempt 1 recorded, not reviewed yet (state `attempted`). */
function attempted(): TestRunStore {
  const s = makeRunStore();
  cleanups.push(s.cleanup);
  const j = open(s);
  dispatchPacket(j, "review");
  const att = s.putFile("attempts/review/1/attempt.json", '{"packet_id":"review","attempt":1}\n');
  j.append("attempt.recorded", {
    packet_id: "review",
    attempt: 1,
    outcome: "ok",
    attempt_digest: att.digest,
    files: [att],
  });
  expect(j.state.packets.review?.state).toBe("attempted");
  j.close();
  return s;
}

describe("the refuting reviewer's attempt of a packet in review (issue 22)", () => {
  it("reviews/<p>/<n>.reviewer/… of an attempted packet is one repairable leftover, not unexpected files", () => {
    const s = attempted();
    s.putFile("reviews/review/1.reviewer/workers/1-refuter/prompt.md", "refute this");
    s.putFile("reviews/review/1.reviewer/workers/1-refuter/stdout", "half");
    expect(problems(s)).toEqual([["ERR_VERIFY_LEFTOVER_ATTEMPT", "reviews/review/1.reviewer", true]]);
  });

  it("the reviewer's folder of another attempt, or of a packet not in review, is unexpected", () => {
    const s = attempted();
    s.putFile("reviews/review/2.reviewer/attempt.json", "{}");
    s.putFile("reviews/inventory/1.reviewer/attempt.json", "{}");
    s.putFile("reviews/review/1.reviewers", "{}");
    expect(problems(s)).toEqual([
      ["ERR_VERIFY_UNEXPECTED_FILE", "reviews/inventory/1.reviewer/attempt.json", false],
      ["ERR_VERIFY_UNEXPECTED_FILE", "reviews/review/1.reviewers", false],
      ["ERR_VERIFY_UNEXPECTED_FILE", "reviews/review/2.reviewer/attempt.json", false],
    ]);
  });
});

describe("approval files the next runner decides (issue 22)", () => {
  const gate = (state: string) => ({ state }) as NonNullable<RunState["gates"][string]>;
  const state = {
    packets: {},
    gates: {
      "write-gate": gate("closed"),
      "human-gate": gate("open"),
      "fanout-limit/measure/1": gate("superseded"),
      accept: gate("rejected"),
      check: gate("approved"),
    },
  } as unknown as RunState;

  it("of any gate of the run are pending approvals (counted, or journaled as refused), never unexpected", () => {
    const { dir, put } = tempStore();
    for (const rel of [
      "approvals/write-gate/1.json",
      "approvals/human-gate/2.json",
      "approvals/fanout-limit/measure/1/1.json",
      "approvals/accept/2.json",
      "approvals/check/3.json",
    ])
      put(rel);
    expect(
      storeLeftovers(dir, state)
        .map((l) => [l.kind, l.path])
        .sort(),
    ).toEqual([
      ["approval", "approvals/accept/2.json"],
      ["approval", "approvals/check/3.json"],
      ["approval", "approvals/fanout-limit/measure/1/1.json"],
      ["approval", "approvals/human-gate/2.json"],
      ["approval", "approvals/write-gate/1.json"],
    ]);
  });

  it("of a gate the run does not have, or by another name, are not", () => {
    const { dir, put } = tempStore();
    put("approvals/nope/1.json");
    put("approvals/accept/0.json");
    put("approvals/accept/1.json.refused-3");
    expect(storeLeftovers(dir, state)).toEqual([]);
  });
});

describe("git locks of the run's refs a writer holds without the run lock (issue 22)", () => {
  it("`dwm exec`'s and a queue worker's are kept while younger than a lease, the runner's own removed at once", () => {
    const s = makeRunStore();
    cleanups.push(s.cleanup);
    const refs = path.join(s.tmp.path, ".git", "refs", "dwm", s.run.run_id);
    const lock = (rel: string) => {
      const f = path.join(refs, `${rel}.lock`);
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, "0".repeat(40));
      return f;
    };
    const exec = lock("attempts/review/exec-1");
    const worker = lock(`${"0f".repeat(16)}/evidence/review/1`);
    const own = lock("attempts/review/1");
    // A live `dwm exec` is fetching its attempt's ref while the next runner opens the journal.
    open(s).close();
    expect([fs.existsSync(exec), fs.existsSync(worker), fs.existsSync(own)]).toEqual([true, true, false]);
    const recovered = readJournal(s.runDir).events.filter((e) => e.type === "store.recovered");
    expect(
      recovered.map((e) => (e.data as { leftovers: { path: string }[] }).leftovers.map((l) => l.path)),
    ).toEqual([[`refs/dwm/${s.run.run_id}/attempts/review/1`]]);
    const report = verifyRun(s.runDir, { trust: TRUST });
    expect(
      report.problems.map((p) => [
        p.code,
        p.file,
        p.repairable,
        p.message.endsWith("its writer is still at work"),
      ]),
    ).toEqual([
      [
        "ERR_VERIFY_LEFTOVER_REF_LOCK",
        `refs/dwm/${s.run.run_id}/${"0f".repeat(16)}/evidence/review/1.lock`,
        true,
        true,
      ],
      ["ERR_VERIFY_LEFTOVER_REF_LOCK", `refs/dwm/${s.run.run_id}/attempts/review/exec-1.lock`, true, true],
    ]);
    // Older than a lease: no git process holds a ref lock that long; a crash left it.
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(exec, old, old);
    fs.utimesSync(worker, old, old);
    open(s).close();
    expect([fs.existsSync(exec), fs.existsSync(worker)]).toEqual([false, false]);
    expect(verifyRun(s.runDir, { trust: TRUST }).ok).toBe(true);
  });
});
