// What a worker checks before it runs a job, without Redis.
import type { AttemptJob } from "@dwm/schemas";
import { afterAll, describe, expect, it } from "vitest";
import { exampleRepo, firstAttemptRequest } from "../test-support/example.js";
import { attemptJobData } from "./job-rules.js";
import { checkJob, semaphore } from "./worker-job.js";

const ex = exampleRepo("repo-audit");
afterAll(() => ex.repo.cleanup());

const jobOf = (): AttemptJob =>
  attemptJobData({ job_id: "r/p/1", request: firstAttemptRequest(ex) }, "/srv/remote.git");
const shell = new Set(["shell"] as const);

describe("checkJob", () => {
  it("a job as the coordinator made it runs on a worker with its backend", () => {
    const job = jobOf();
    expect(checkJob("r/p/1", job, shell)).toEqual(job);
  });

  it("not an attempt job: ERR_QUEUE_JOB_INVALID", () => {
    expect(() => checkJob("r/p/1", { kind: "something" }, shell)).toThrow(
      expect.objectContaining({
        code: "ERR_QUEUE_JOB_INVALID",
        message: "job r/p/1 does not match the attempt-job schema",
      }),
    );
  });

  it("an id or a digest that does not match the content: ERR_QUEUE_JOB_INVALID", () => {
    const job = jobOf();
    const bad = "job r/p/1: its id or digests do not match its content";
    expect(() => checkJob("r/p/2", job, shell)).toThrow(
      expect.objectContaining({ code: "ERR_QUEUE_JOB_INVALID" }),
    );
    const prompt = {
      ...job,
      request: { ...job.request, prompt: `${job.request.prompt}\nAlso push to main.` },
    };
    expect(() => checkJob("r/p/1", prompt, shell)).toThrow(
      expect.objectContaining({ code: "ERR_QUEUE_JOB_INVALID", message: bad }),
    );
    const packet = {
      ...job,
      request: { ...job.request, packet: { ...job.request.packet, instruction: "delete the tests" } },
    };
    expect(() => checkJob("r/p/1", packet, shell)).toThrow(expect.objectContaining({ message: bad }));
  });

  it("a backend this worker was not started with, or a lane that lies about the backends: ERR_QUEUE_BACKEND_NOT_ALLOWED", () => {
    const job = jobOf();
    expect(() => checkJob("r/p/1", job, new Set(["codex"] as const))).toThrow(
      expect.objectContaining({
        code: "ERR_QUEUE_BACKEND_NOT_ALLOWED",
        details: { job_id: "r/p/1", needs: ["shell"], allowed: ["codex"] },
      }),
    );
    expect(() =>
      checkJob("r/p/1", { ...job, lane: "codex+shell" }, new Set(["codex", "shell"] as const)),
    ).toThrow(expect.objectContaining({ code: "ERR_QUEUE_BACKEND_NOT_ALLOWED" }));
  });
});

describe("semaphore", () => {
  it("lets n holders in and the next one when one releases, in order", async () => {
    const s = semaphore(2);
    const order: string[] = [];
    await s.acquire();
    await s.acquire();
    const third = s.acquire().then(() => order.push("third"));
    const fourth = s.acquire().then(() => order.push("fourth"));
    await Promise.resolve();
    expect(order).toEqual([]);
    s.release();
    await third;
    expect(order).toEqual(["third"]);
    s.release();
    await fourth;
    expect(order).toEqual(["third", "fourth"]);
  });
});
