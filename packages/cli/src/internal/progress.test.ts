// The live view of `dwm run` on a fake clock and a hand-driven ticker: the block redraws every
// second while nothing happens (elapsed and each running packet's time move), estimates the time
// left from reviewed attempts, is erased on close; the line modes print what they printed before.
import type { ProgressEvent } from "@dwm/dispatcher";
import type { JournalEvent } from "@dwm/schemas";
import { FakeClock } from "@dwm/test-utils";
import { describe, expect, it } from "vitest";
import type { CommandContext } from "../command.js";
import { clockTime, createProgress, PacketTracker, REDRAW_MS, type Ticker } from "./progress.js";

function event(seq: number, type: string, data: Record<string, unknown>): ProgressEvent {
  return {
    kind: "event",
    event: {
      seq,
      type,
      data,
      at: "2026-01-01T00:00:00.000Z",
      prev: "",
      digest: "",
    } as unknown as JournalEvent,
    frontier: null,
  };
}

/** A ticker whose timer fires when the test says; counts how often it was started and stopped. */
function handTicker() {
  const t = {
    fns: [] as (() => void)[],
    stopped: 0,
    tick: () => {},
    every: (() => () => {}) as Ticker["every"],
  };
  t.every = (ms, fn) => {
    expect(ms).toBe(REDRAW_MS);
    t.fns.push(fn);
    return () => {
      t.stopped++;
    };
  };
  t.tick = () => {
    for (const f of t.fns) f();
  };
  return t;
}

function context(clock: FakeClock, lines: string[]): CommandContext {
  return { cwd: "/", env: {}, clock, isTTY: true, columns: 60, emit: (l) => lines.push(l) };
}

const plain = (l: string) => l.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "");

describe("createProgress on a terminal", () => {
  it("redraws every second with elapsed times, estimates from reviewed attempts, erases itself on close", () => {
    const clock = new FakeClock();
    const lines: string[] = [];
    const ticker = handTicker();
    const p = createProgress(context(clock, lines), "tty", null, ticker);
    expect(ticker.fns).toHaveLength(1);

    p.onProgress(event(1, "run.opened", { packets: ["a", "b", "c"] }));
    expect(lines.map(plain)).toEqual([
      "[00:00] #1 run.opened",
      "[00:00] 0/3 done · 0 running · attempts 0 · ETA -",
    ]);
    p.onProgress(event(2, "packet.dispatched", { packet_id: "a", attempt: 1, backend: "shell" }));
    p.onProgress(event(3, "packet.dispatched", { packet_id: "b", attempt: 1, backend: "shell" }));

    // Nothing happens for 2.4 s: the timer redraws the block in place (erasing the three lines it drew).
    lines.length = 0;
    clock.advance(2400);
    ticker.tick();
    expect(lines[0]?.startsWith("\x1b[3A\x1b[0J")).toBe(true);
    expect(lines.map(plain)).toEqual([
      "[00:02] 0/3 done · 2 running · attempts 2 · ETA -",
      "  a 00:02",
      "  b 00:02",
    ]);

    // a is reviewed after 4 s: the estimate is its time for each packet left, over the two at once.
    clock.advance(1600);
    p.onProgress(event(4, "attempt.recorded", { packet_id: "a", attempt: 1, outcome: "ok" }));
    p.onProgress(event(5, "packet.reviewed", { packet_id: "a", attempt: 1, verdict: "approved" }));
    p.onProgress(event(6, "packet.completed", { packet_id: "a", attempt: 1 }));
    lines.length = 0;
    clock.advance(1000);
    ticker.tick();
    expect(lines.map(plain)).toEqual(["[00:05] 1/3 done · 1 running · attempts 2 · ETA ~00:04", "  b 00:05"]);

    p.close();
    expect(ticker.stopped).toBe(1);
    expect(lines.at(-1)).toBe("\x1b[2A\x1b[0J\x1b[1A");
    expect(p.events()).toBe(6);
  });

  it("keeps every line within the terminal's width, so the block can be erased line by line", () => {
    const clock = new FakeClock();
    const lines: string[] = [];
    const p = createProgress(context(clock, lines), "tty", null, handTicker());
    p.onProgress(event(1, "packet.dispatched", { packet_id: `x${"y".repeat(80)}`, attempt: 1 }));
    const block = lines.slice(1);
    expect(block.every((l) => l.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").length < 60)).toBe(true);
  });
});

describe("createProgress off a terminal", () => {
  it("lines: one line per event as before, no timer; ndjson: the events; none: nothing, still counted", () => {
    for (const mode of ["lines", "ndjson", "none"] as const) {
      const clock = new FakeClock();
      const lines: string[] = [];
      const ticker = handTicker();
      const p = createProgress({ ...context(clock, lines), isTTY: false }, mode, null, ticker);
      p.onProgress(event(1, "packet.dispatched", { packet_id: "a", attempt: 1, backend: "shell" }));
      p.onProgress({ kind: "note", message: "hello" });
      p.close();
      expect(ticker.fns).toHaveLength(0);
      expect(p.events()).toBe(1);
      if (mode === "lines")
        expect(lines).toEqual(["[00:00] #1 packet.dispatched a attempt 1 (shell)", "[00:00] hello"]);
      if (mode === "ndjson")
        expect(lines.map((l) => JSON.parse(l).type ?? JSON.parse(l).kind)).toEqual([
          "packet.dispatched",
          "note",
        ]);
      if (mode === "none") expect(lines).toEqual([]);
    }
  });
});

describe("PacketTracker", () => {
  it("starts from the run's state, adds fan-out items, and leaves expanded templates out of the total", () => {
    const t = new PacketTracker({
      packets: { a: { state: "completed" }, list: { state: "expanded" } },
    } as never);
    const e = event(1, "fanout.expanded", { packets: [{ packet_id: "list/x" }, { packet_id: "list/y" }] });
    t.note((e as { event: JournalEvent }).event, 0);
    expect(t.total()).toBe(3);
    expect(t.count("completed")).toBe(1);
  });

  it.each([
    [0, "00:00"],
    [61_000, "01:01"],
    [3_725_000, "1:02:05"],
  ])("clockTime(%i) is %s", (ms, text) => {
    expect(clockTime(ms)).toBe(text);
  });
});
