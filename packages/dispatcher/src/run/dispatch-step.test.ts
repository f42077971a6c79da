import type { Dispatchable, Packet, ResolvedBinding } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import { packetState, runState } from "../test-support/builders.js";
import { dispatchedBackend, repairContext, reworkOf } from "./dispatch-step.js";

// dispatchedBackend reads only the packet's command and the binding's workers.
const packet = (command?: unknown) =>
  ({ packet_id: "p", ...(command ? { command } : {}) }) as unknown as Packet;
const binding = (workers: Record<string, { backend: string } | undefined>) =>
  ({ bindings_digest: "sha256:x", workers }) as unknown as ResolvedBinding;

describe("dispatchedBackend: the backend packet.dispatched names", () => {
  it("a packet's own command runs on the shell, whatever its workers' binding", () => {
    expect(dispatchedBackend(packet({ argv: ["make"] }), binding({ w: { backend: "codex" } }))).toBe("shell");
  });

  it("else its workers' backends, each once, in binding order", () => {
    expect(
      dispatchedBackend(
        packet(),
        binding({ plan: { backend: "claude" }, impl: { backend: "codex" }, check: { backend: "claude" } }),
      ),
    ).toBe("claude+codex");
  });

  it("a worker bound to no backend, or no worker at all, is the shell", () => {
    expect(dispatchedBackend(packet(), binding({ w: undefined }))).toBe("shell");
    expect(dispatchedBackend(packet(), binding({}))).toBe("shell");
  });
});

describe("reworkOf: the rejection that sent a packet back", () => {
  it("reads the gate and the reason (which may span lines) from the reopen reason", () => {
    expect(reworkOf("gate merge-conflict/a/1 rejected: redo it\non top")).toEqual({
      gate_id: "merge-conflict/a/1",
      reason: "redo it\non top",
    });
  });

  it("anything else is not a rework", () => {
    expect(reworkOf(null)).toBeNull();
    expect(reworkOf("attempt 1 was in flight when its runner stopped")).toBeNull();
  });
});

describe("repairContext", () => {
  const d = (kind: Dispatchable["kind"]): Dispatchable => ({ packet_id: "p", attempt: 2, kind });

  it("a first attempt, a retry, or an unknown packet has none (nothing is read)", () => {
    const state = runState({ p: packetState({ state: "abandoned", attempts: 1 }) });
    expect(repairContext("/nonexistent", state, d("first"))).toBeNull();
    expect(repairContext("/nonexistent", state, d("retry"))).toBeNull();
    expect(repairContext("/nonexistent", runState(), d("repair"))).toBeNull();
  });

  it("a rework is told the gate's rejection", () => {
    const state = runState({
      p: packetState({ state: "pending", attempts: 1, reason: "gate human-gate rejected: add tests" }),
    });
    const text = repairContext("/nonexistent", state, d("rework")) ?? "";
    expect(text).toContain("human-gate");
    expect(text).toContain("add tests");
  });

  it("a repair whose attempt the journal never recorded is ERR_DISPATCH_EVIDENCE_MISSING", () => {
    const state = runState({ p: packetState({ state: "repairing", attempts: 1 }) });
    expect(() => repairContext("/nonexistent", state, d("repair"))).toThrow(
      expect.objectContaining({ code: "ERR_DISPATCH_EVIDENCE_MISSING" }),
    );
  });
});
