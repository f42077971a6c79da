// The run instance identity a distributed queue namespaces its jobs and refs by, and the check
// that a resumed run does not leave attempts behind in a queue it does not use.
import fs from "node:fs";
import path from "node:path";
import { readJournal } from "@dwm/runtime";
import { afterAll, describe, expect, it } from "vitest";
import { checkQueueResume, newRunInstance, runInstance } from "./run-identity.js";
import { runWorkflow } from "./run-workflow.js";
import { packetState, runState } from "./test-support/builders.js";
import { exampleRepo, realPorts } from "./test-support/example.js";
import { OPERATOR } from "./test-support/operator.js";

const INSTANCE = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const REDIS = { url: "redis://10.0.0.1:6379", prefix: "dwm" };

describe("newRunInstance", () => {
  it("128 random bits as 32 hex digits, a new one each time", () => {
    const a = newRunInstance();
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(newRunInstance()).not.toBe(a);
  });
});

describe("runInstance", () => {
  const ex = exampleRepo("repo-audit");
  afterAll(() => ex.repo.cleanup());
  const runDir = ex.compiled.runDir;
  const ports = (instance?: string) => ({
    ...realPorts(),
    ...(instance ? { runInstance: () => instance } : {}),
  });
  const options = {
    repo: ex.repo.path,
    bindings: ex.bindings,
    bindingsDigest: ex.bindingsDigest,
    maxAttempts: 0,
    operator: OPERATOR,
  };

  it("the instance a new journal's run.opened got is the run's, read back by the next runner", async () => {
    await runWorkflow(runDir, ports(INSTANCE), options);
    const { events } = readJournal(runDir);
    expect(events[0]?.data).toMatchObject({ instance: INSTANCE });
    await runWorkflow(runDir, ports("f".repeat(32)), options);
    const again = readJournal(runDir).events;
    expect(again.filter((e) => e.type === "run.opened")).toHaveLength(1);
    const state = { ...runState(), run_id: ex.compiled.runId, instance: INSTANCE };
    expect(runInstance(runDir, state)).toBe(INSTANCE);
  });

  it("a journal without one: 32 hex digits of its second event's digest, the same on every read", () => {
    const dir = path.join(path.dirname(runDir), "copy");
    fs.cpSync(runDir, dir, { recursive: true });
    const lines = fs.readFileSync(path.join(dir, "journal.jsonl"), "utf8").split("\n");
    const second = JSON.parse(lines[1] as string) as { digest: string };
    const state = { ...runState(), run_id: ex.compiled.runId };
    expect(runInstance(dir, state)).toBe(second.digest.slice(7, 39));
    expect(runInstance(dir, state)).toBe(runInstance(dir, state));
    fs.rmSync(dir, { recursive: true });
  });
});

describe("checkQueueResume: attempts in flight in a queue this runner does not use", () => {
  const inRedis = runState({
    a: packetState({ state: "dispatched", attempts: 2, queue: REDIS }),
    b: packetState({ state: "dispatched", attempts: 1 }),
    c: packetState({ state: "completed", attempts: 1, queue: REDIS }),
  });

  it("resumed with the same queue, or with nothing in flight there: nothing to refuse", () => {
    expect(checkQueueResume(inRedis, REDIS, false)).toEqual([]);
    expect(
      checkQueueResume(runState({ b: packetState({ state: "dispatched", attempts: 1 }) }), undefined, false),
    ).toEqual([]);
    // An in-process run resumed with a queue: its dead attempts are abandoned and dispatched to the queue.
    expect(
      checkQueueResume(runState({ b: packetState({ state: "dispatched", attempts: 1 }) }), REDIS, false),
    ).toEqual([]);
  });

  it("without --queue, or with another Redis or prefix: ERR_QUEUE_RESUME_MISMATCH naming the queue and attempts, with the command", () => {
    for (const origin of [
      undefined,
      { ...REDIS, url: "redis://10.0.0.2:6379" },
      { ...REDIS, prefix: "team" },
    ]) {
      expect(() => checkQueueResume(inRedis, origin, false)).toThrow(
        expect.objectContaining({
          code: "ERR_QUEUE_RESUME_MISMATCH",
          message: expect.stringContaining(
            "1 attempt(s) of run r are in flight in the queue at redis://10.0.0.1:6379 (prefix dwm): a/2",
          ),
          hint: expect.stringContaining("dwm run r --queue redis://10.0.0.1:6379 --remote"),
          details: { run_id: "r", queue: REDIS, attempts: [{ packet_id: "a", attempt: 2 }] },
        }),
      );
    }
  });

  it("--abandon-queued lets the runner go on, and names what it leaves", () => {
    expect(checkQueueResume(inRedis, undefined, true)).toEqual(["a/2 (redis://10.0.0.1:6379)"]);
  });
});
