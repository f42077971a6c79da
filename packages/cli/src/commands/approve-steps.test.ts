// dwm approve|reject's argument check alone: which decisions are refused before the run is read.
import { isDwmError } from "@dwm/core";
import { FakeClock } from "@dwm/test-utils";
import { describe, expect, it } from "vitest";
import type { CommandContext, ParsedArgs } from "../command.js";
import { decisionArgs } from "./approve.js";

const ctx: CommandContext = {
  cwd: "/",
  env: {},
  clock: new FakeClock(),
  isTTY: false,
  emit: () => undefined,
};
const args = (positionals: string[], values: ParsedArgs["values"] = {}): ParsedArgs => ({
  positionals,
  values,
  json: false,
});

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (isDwmError(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
  return "accepted";
}

describe("decisionArgs", () => {
  it("takes the run, the gate, the reason and the packets to rework", () => {
    expect(decisionArgs(args(["r", "g"], { reason: "no", packets: ["a, b", "c"] }), ctx, "reject")).toEqual({
      runArg: "r",
      gateId: "g",
      reason: "no",
      packets: ["a", "b", "c"],
    });
    expect(decisionArgs(args(["r", "g"]), ctx, "approve")).toEqual({
      runArg: "r",
      gateId: "g",
      reason: "",
      packets: [],
    });
  });

  it("refuses a missing gate, a worker's environment, and --packets with approve", () => {
    expect(refusal(() => decisionArgs(args(["r"]), ctx, "approve"))).toBe(
      "ERR_CLI_USAGE: approve: name the run and the gate",
    );
    const worker = { ...ctx, env: { DWM_WORKTREE: "/tmp/x" } };
    expect(refusal(() => decisionArgs(args(["r", "g"]), worker, "reject"))).toBe(
      "ERR_GATE_APPROVER_IS_WORKER: refusing to reject gate g: the environment has DWM_WORKTREE, which DWM gives its workers",
    );
    expect(refusal(() => decisionArgs(args(["r", "g"], { packets: "a" }), ctx, "approve"))).toBe(
      "ERR_CLI_USAGE: --packets names packets to rework; it goes with dwm reject",
    );
  });
});
