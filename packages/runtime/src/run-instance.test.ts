// The run instance identity (run.opened.instance) and the queue an attempt went to
// (packet.dispatched.queue): journaled when given, folded into the state, absent otherwise.
import fs from "node:fs";
import path from "node:path";
import { writeArtifact } from "@dwm/core";
import { validateSchema } from "@dwm/schemas";
import { FakeClock, makeTempDir } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import type { EventDraft } from "./events.js";
import { foldJournal } from "./fold.js";
import { openingEvents, openJournal, readJournal } from "./journal.js";
import { chainEvents } from "./test-support/chain.js";
import { D, packetEntries, runOpened, testRun } from "./test-support/runs.js";

const INSTANCE = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";

const run = testRun({ packets: packetEntries(["a"]) });

const opened = (instance?: string): EventDraft => runOpened(run, instance ? { instance } : {});

const dispatched = (attempt: number, queue?: { url: string; prefix: string }): EventDraft => ({
  type: "packet.dispatched",
  data: { packet_id: "a", attempt, packet_digest: D(10), base_commit: null, ...(queue ? { queue } : {}) },
});

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe("run instance identity", () => {
  it("openingEvents puts the instance into run.opened of a new journal only", () => {
    const base = { run, runDigest: D(99), torn: null, tookOver: null, pid: 1, host: "h", instance: INSTANCE };
    expect(openingEvents({ ...base, fresh: true })[0]?.data).toMatchObject({ instance: INSTANCE });
    expect(openingEvents({ ...base, fresh: false }).map((d) => d.type)).toEqual(["lease.taken"]);
    expect(
      openingEvents({ ...base, instance: undefined, fresh: true })[0]?.data as Record<string, unknown>,
    ).not.toHaveProperty("instance");
  });

  it("the fold keeps run.opened's instance; a journal without one has none", () => {
    const withIt = foldJournal(chainEvents(run, [opened(INSTANCE)]), run);
    expect(withIt.instance).toBe(INSTANCE);
    expect(validateSchema("run-state", withIt).ok).toBe(true);
    const without = foldJournal(chainEvents(run, [opened()]), run);
    expect(without).not.toHaveProperty("instance");
  });

  it("an instance that is not 32 hex digits does not match the journal-event schema", () => {
    const [good] = chainEvents(run, [opened(INSTANCE)]);
    const [bad] = chainEvents(run, [opened("0F1E2D3C4B5A69788796A5B4C3D2E1F0")]);
    expect(validateSchema("journal-event", good).ok).toBe(true);
    expect(validateSchema("journal-event", bad).ok).toBe(false);
  });

  it("packet.dispatched's queue is the packet's until an attempt goes to the in-process pool", () => {
    const queue = { url: "redis://127.0.0.1:6379", prefix: "dwm" };
    const evs = chainEvents(run, [
      opened(INSTANCE),
      dispatched(1, queue),
      { type: "packet.abandoned", data: { packet_id: "a", attempt: 1, reason: "lost" } },
    ]);
    const s1 = foldJournal(evs, run);
    expect(s1.packets.a?.queue).toEqual(queue);
    expect(validateSchema("run-state", s1).ok).toBe(true);
    const s2 = foldJournal(chainEvents(run, [dispatched(2)], evs), run);
    expect(s2.packets.a?.state).toBe("dispatched");
    expect(s2.packets.a).not.toHaveProperty("queue");
  });

  it("openJournal journals the instance it is given, and a resumed journal reads it back", () => {
    const tmp = makeTempDir("dwm-instance-");
    cleanups.push(tmp.cleanup);
    const dir = path.join(tmp.path, "run");
    fs.mkdirSync(dir);
    writeArtifact(path.join(dir, "run.json"), "run", run);
    const clock = new FakeClock();
    const j1 = openJournal(dir, { clock, instance: INSTANCE });
    expect(j1.state.instance).toBe(INSTANCE);
    j1.close();
    const j2 = openJournal(dir, { clock, instance: "ffffffffffffffffffffffffffffffff" });
    expect(j2.state.instance).toBe(INSTANCE);
    j2.close();
    expect(readJournal(dir).events[0]?.data).toMatchObject({ instance: INSTANCE });
  });
});
