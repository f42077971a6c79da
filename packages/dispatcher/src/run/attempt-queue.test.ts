import { afterEach, describe, expect, it } from "vitest";
import { createWorkerPool } from "../queue.js";
import { type ExampleContext, exampleContext } from "../test-support/builders.js";
import { openAttemptQueue } from "./attempt-queue.js";

describe("openAttemptQueue", () => {
  let open: ExampleContext | null = null;
  afterEach(() => {
    open?.close();
    open = null;
  });

  it("the caller's queue gets the run's concurrency cap (--concurrency over the plan's cap)", async () => {
    const sizes: number[] = [];
    open = await exampleContext(
      "repo-audit",
      { concurrency: 3 },
      {
        queue: (execute, concurrency) => {
          sizes.push(concurrency);
          return createWorkerPool({ concurrency, execute, clock: open?.ctx.setup.ports.clock as never });
        },
      },
    );
    const q = openAttemptQueue(open.ctx);
    expect(sizes).toEqual([3]);
    expect(q.pending).toBe(0);
    q.close();
  });

  it("without one, the in-process pool", async () => {
    open = await exampleContext("repo-audit");
    const q = openAttemptQueue(open.ctx);
    expect(await q.next()).toBeNull();
    expect(q.leases()).toEqual([]);
    q.close();
  });
});
