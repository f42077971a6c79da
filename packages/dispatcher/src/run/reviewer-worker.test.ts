import fs from "node:fs";
import path from "node:path";
import type { Packet, PacketWorker, WorkerBindings } from "@dwm/schemas";
import { validateSchema } from "@dwm/schemas";
import { makeTempDir } from "@dwm/test-utils";
import { describe, expect, it } from "vitest";
import { answerOf, parseVerdict, reviewerOf, reviewerPacket, reviewerRel } from "./reviewer-worker.js";

const packet = JSON.parse(
  fs.readFileSync(
    new URL("../../../../schemas/examples/packet/valid/inventory.json", import.meta.url),
    "utf8",
  ),
) as Packet;
const bindings = (extra: Partial<WorkerBindings> = {}): WorkerBindings => ({
  kind: "worker-bindings",
  schema_version: "1",
  bindings: { "*": { backend: "shell", argv: ["true"] }, refuter: { backend: "claude" } },
  ...extra,
});

describe("parseVerdict", () => {
  it("the VERDICT line and the reasons after it; anything else is no answer", () => {
    expect(parseVerdict("Looked at it.\nVERDICT: changes-requested\nThe test is skipped.\n")).toEqual({
      verdict: "changes-requested",
      summary: "The test is skipped.",
    });
    expect(parseVerdict("verdict: approved")).toEqual({ verdict: "approved", summary: null });
    expect(parseVerdict("  VERDICT: needs-human (cannot tell)\nwhy")).toEqual({
      verdict: "needs-human",
      summary: "why",
    });
    expect(parseVerdict("VERDICT: approve")).toBeNull();
    expect(parseVerdict("I approve.")).toBeNull();
  });
});

describe("reviewerOf", () => {
  const reviewer = { ...packet.workers[0], id: "refuter" } as PacketWorker;
  it("the plan's reviewer, bound like any worker; else the bindings' reviewer, read-only; else none", () => {
    expect(reviewerOf({ ...packet, reviewer }, bindings())).toEqual({
      worker: reviewer,
      binding: { backend: "claude" },
    });
    const fromBindings = reviewerOf(packet, bindings({ reviewer: "refuter" }));
    expect(fromBindings?.binding).toEqual({ backend: "claude" });
    expect(fromBindings?.worker.id).toBe("refuter");
    expect(fromBindings?.worker.tool_permissions).toMatchObject({
      write: false,
      shell: false,
      network: false,
    });
    expect(reviewerOf(packet, bindings())).toBeNull();
    expect(reviewerOf(packet, bindings({ reviewer: "nobody" }))).toBeNull();
  });

  it("never for a command or a gate without workers", () => {
    const b = bindings({ reviewer: "refuter" });
    expect(reviewerOf({ ...packet, command: { argv: ["true"] } }, b)).toBeNull();
    expect(reviewerOf({ ...packet, workers: [] }, b)).toBeNull();
  });
});

describe("reviewerPacket", () => {
  it("the task as it was, the reviewer its only worker (never writing), nothing to produce, a packet of its own", () => {
    const worker = { ...packet.workers[0], id: "refuter" } as PacketWorker;
    const rp = reviewerPacket({ ...packet, reviewer: worker }, worker);
    expect(validateSchema("packet", rp).ok).toBe(true);
    expect(rp).toMatchObject({ packet_id: `review/${packet.packet_id}`, outputs: [], gates: [], inputs: [] });
    expect(rp.workers.map((w) => [w.id, w.tool_permissions.write])).toEqual([["refuter", false]]);
    expect(rp.reviewer).toBeUndefined();
    expect(rp.instruction).toBe(packet.instruction);
    expect(reviewerRel("scan/a-1234abcd", 2)).toBe("reviews/scan/a-1234abcd/2.reviewer");
  });
});

describe("answerOf", () => {
  it("codex's last message, else claude's result line, else stdout", () => {
    const tmp = makeTempDir("dwm-answer-");
    try {
      const w = (rel: string, text: string) => {
        fs.mkdirSync(path.dirname(path.join(tmp.path, rel)), { recursive: true });
        fs.writeFileSync(path.join(tmp.path, rel), text);
      };
      const inv = {
        stdout: "workers/1-r/stdout",
        transcript: "workers/1-r/transcript.jsonl" as string | null,
        prompt: "workers/1-r/prompt.md",
      };
      const attempt = { invocations: [inv] } as never;
      w("workers/1-r/stdout", "raw out\n");
      w(
        "workers/1-r/transcript.jsonl",
        '{"type":"system"}\n{"type":"result","result":"VERDICT: approved\\nok"}\n',
      );
      expect(answerOf(tmp.path, attempt)).toEqual({
        text: "VERDICT: approved\nok",
        transcript: inv.transcript,
      });
      w("workers/1-r/last-message.md", "VERDICT: needs-human\n");
      expect(answerOf(tmp.path, attempt).text).toBe("VERDICT: needs-human\n");
      inv.transcript = null;
      fs.rmSync(path.join(tmp.path, "workers/1-r/last-message.md"));
      expect(answerOf(tmp.path, attempt)).toEqual({ text: "raw out\n", transcript: "workers/1-r/stdout" });
    } finally {
      tmp.cleanup();
    }
  });
});
