import type { ProcessRequest } from "@dwm/core";
import { FakeProcessRunner } from "@dwm/test-utils";
import { describe, expect, it } from "vitest";
import { StopControl } from "./stop.js";

describe("StopControl", () => {
  it("follows the caller's signal, also one aborted before the run began; dispose stops following", () => {
    const early = new AbortController();
    early.abort();
    expect(new StopControl({ signal: early.signal }).aborted).toBe(true);
    const later = new AbortController();
    const s = new StopControl({ signal: later.signal });
    expect(s.aborted).toBe(false);
    later.abort();
    expect(s.aborted).toBe(true);
    const gone = new AbortController();
    const d = new StopControl({ signal: gone.signal });
    d.dispose();
    gone.abort();
    expect(d.aborted).toBe(false);
  });

  it("a failure does not abort (running attempts finish); the first reason wins", () => {
    const s = new StopControl({});
    s.fail("a attempt 1: ERR_X: first");
    s.fail("b: second");
    expect(s.failure).toBe("a attempt 1: ERR_X: first");
    expect(s.aborted).toBe(false);
  });

  it("a lost lease aborts and keeps the error for after the drain", () => {
    const s = new StopControl({});
    const e = new Error("lock lost");
    s.leaseLost(e);
    expect(s.aborted).toBe(true);
    expect(s.leaseError).toBe(e);
  });

  it("race: the promise's value, or stopped as soon as the run stops", async () => {
    const s = new StopControl({});
    expect(await s.race(Promise.resolve(7))).toBe(7);
    const never = new Promise<number>(() => {});
    const raced = s.race(never);
    s.leaseLost(new Error("x"));
    expect(await raced).toBe("stopped");
    expect(await s.race(Promise.resolve(8))).toBe("stopped");
  });

  it("sleep: ports.sleep with the stop signal", async () => {
    const seen: [number, boolean][] = [];
    const s = new StopControl({
      sleep: async (ms, signal) => {
        seen.push([ms, signal.aborted]);
      },
    });
    await s.sleep(250);
    expect(seen).toEqual([[250, false]]);
  });

  it("workerRunner: workers get the stop signal; git commands and requests with their own signal do not", async () => {
    const inner = new FakeProcessRunner();
    const s = new StopControl({});
    const runner = s.workerRunner(inner);
    const own = new AbortController().signal;
    const req = (argv: string[], signal?: AbortSignal): ProcessRequest =>
      ({ argv, cwd: "/", env: {}, ...(signal ? { signal } : {}) }) as ProcessRequest;
    await runner.run(req(["node", "worker.mjs"]));
    await runner.run(req(["git", "status"]));
    await runner.run(req(["codex", "exec"], own));
    expect(inner.calls.map((c) => c.signal)).toEqual([s.signal, undefined, own]);
  });
});
