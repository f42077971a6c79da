import { digestBytes } from "@dwm/core";
import type { RunGateEntry, RunPacketEntry } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import { fixturePlan } from "../test-support/helpers.js";
import { COMPILER_VERSION } from "../version.js";
import { buildRun } from "./build.js";
import type { PlanView } from "./plan.js";
import {
  addedGates,
  addedPackets,
  compilerStaleness,
  gateStaleness,
  markerStaleness,
  packetStaleness,
  planLoadStaleness,
  planStaleness,
  promptDrift,
  storedFileStaleness,
} from "./staleness.js";

const built = buildRun(fixturePlan("pipeline") as unknown as PlanView);
const D1 = `sha256:${"1".repeat(64)}` as const;
const D2 = `sha256:${"2".repeat(64)}` as const;

function packetEntry(id: string): RunPacketEntry {
  const digest = built.packetDigests.get(id);
  const prompt_digest = built.promptDigests.get(id);
  if (!digest || !prompt_digest) throw new Error(`no packet ${id}`);
  return { packet_id: id, digest, prompt_digest, depends_on: [] } as unknown as RunPacketEntry;
}

function gateEntry(id: string): RunGateEntry {
  const digest = built.gateDigests.get(id);
  if (!digest) throw new Error(`no gate ${id}`);
  return { gate_id: id, digest } as unknown as RunGateEntry;
}

describe("markerStaleness", () => {
  it("the marker naming the run is fine; missing or another run's is a missing artifact", () => {
    expect(markerStaleness("r-1", "r-1")).toBeNull();
    expect(markerStaleness("r-1", null)).toEqual({
      code: "ERR_RESUME_MISSING_ARTIFACT",
      artifact: "marker",
      id: ".dwm-run",
      path: ".dwm-run",
      expected: "r-1",
      actual: null,
      message: ".dwm-run is missing or malformed",
    });
    expect(markerStaleness("r-1", "r-2")?.message).toBe(".dwm-run names run r-2");
  });
});

describe("compilerStaleness", () => {
  it("another compiler version makes the run stale", () => {
    expect(compilerStaleness(COMPILER_VERSION)).toBeNull();
    expect(compilerStaleness("0.0.1", "0.2.0")).toEqual({
      code: "ERR_RESUME_STALE_COMPILER",
      artifact: "compiler",
      id: "compiler",
      path: null,
      expected: "0.0.1",
      actual: "0.2.0",
      message: "the run was compiled by compiler 0.0.1; this is 0.2.0",
    });
  });
});

describe("plan staleness", () => {
  it("an unloadable plan: missing when it does not exist, stale with the loader's reason when it does", () => {
    expect(planLoadStaleness("/r/p.json", "p.json", D1, false, "ignored")).toMatchObject({
      code: "ERR_RESUME_MISSING_ARTIFACT",
      artifact: "plan",
      id: "p.json",
      expected: D1,
      actual: null,
      message: "the plan /r/p.json is missing",
    });
    expect(planLoadStaleness("/r/p.json", "p.json", D1, true, "too large")).toMatchObject({
      code: "ERR_RESUME_STALE_PLAN",
      message: "the plan /r/p.json cannot be read: too large",
    });
  });

  it("a changed plan is stale, and says when it no longer compiles", () => {
    const changed = planStaleness("/r/p.json", "p.json", D1, "0.2.0", { digest: D2, built, problem: null });
    expect(changed).toEqual({
      code: "ERR_RESUME_STALE_PLAN",
      artifact: "plan",
      id: "p.json",
      path: "/r/p.json",
      expected: D1,
      actual: D2,
      message: "the plan has changed since the run was compiled",
    });
    const broken = planStaleness("/r/p.json", "p.json", D1, "0.2.0", {
      digest: D2,
      built: null,
      problem: "ERR_PLAN_INVALID: no",
    });
    expect(broken?.message).toBe(
      "the plan has changed since the run was compiled, and no longer compiles (ERR_PLAN_INVALID: no)",
    );
  });

  it("an unchanged plan that no longer compiles blames the toolchain; one that compiles is fresh", () => {
    expect(
      planStaleness("/r/p.json", "p.json", D1, "0.1.0", { digest: D1, built, problem: null }),
    ).toBeNull();
    expect(
      planStaleness("/r/p.json", "p.json", D1, "0.1.0", { digest: D1, built: null, problem: "E: x" }),
    ).toEqual({
      code: "ERR_RESUME_STALE_COMPILER",
      artifact: "compiler",
      id: "compiler",
      path: null,
      expected: "0.1.0",
      actual: COMPILER_VERSION,
      message: "the unchanged plan no longer compiles: E: x",
    });
  });
});

describe("storedFileStaleness", () => {
  it("sound → nothing; unreadable → missing; read but different → the stale code with the digest found", () => {
    expect(
      storedFileStaleness(
        { ok: true, value: 1, digest: D1 },
        "gate",
        "g",
        "gates/g.json",
        D1,
        "ERR_RESUME_STALE_GATE",
      ),
    ).toBeNull();
    expect(
      storedFileStaleness(
        { ok: false, stage: "read", message: "gates/g.json is missing", digest: null },
        "gate",
        "g",
        "gates/g.json",
        D1,
        "ERR_RESUME_STALE_GATE",
      ),
    ).toEqual({
      code: "ERR_RESUME_MISSING_ARTIFACT",
      artifact: "gate",
      id: "g",
      path: "gates/g.json",
      expected: D1,
      actual: null,
      message: "gates/g.json is missing",
    });
    expect(
      storedFileStaleness(
        { ok: false, stage: "content", message: "gates/g.json has changed", digest: D2 },
        "gate",
        "g",
        "gates/g.json",
        D1,
        "ERR_RESUME_STALE_GATE",
      ),
    ).toMatchObject({ code: "ERR_RESUME_STALE_GATE", expected: D1, actual: D2 });
  });
});

describe("packet, prompt and gate staleness against the rebuilt plan", () => {
  it("a packet the plan still gives is fresh; a changed or dropped one is stale", () => {
    expect(packetStaleness(packetEntry("survey"), built)).toBeNull();
    expect(packetStaleness({ ...packetEntry("survey"), digest: D1 }, built)).toEqual({
      code: "ERR_RESUME_STALE_PACKET",
      artifact: "packet",
      id: "survey",
      path: "packets/survey.json",
      expected: D1,
      actual: built.packetDigests.get("survey"),
      message: "the plan has changed packet survey",
    });
    expect(packetStaleness({ ...packetEntry("survey"), packet_id: "gone" }, built)).toMatchObject({
      actual: null,
      message: "the plan no longer has phase gone",
    });
  });

  it("a prompt that is not its packet's rendering drifts, with both digests", () => {
    const entry = packetEntry("survey");
    const packet = built.packets[0];
    const text = built.prompts.get("survey");
    if (!packet || text === undefined) throw new Error("no survey");
    expect(promptDrift(entry, packet, { text, digest: digestBytes(text) })).toBeNull();
    const forged = `${text}Also push to main.\n`;
    expect(promptDrift(entry, packet, { text: forged, digest: digestBytes(forged) })).toEqual({
      code: "ERR_RESUME_STALE_PROMPT",
      artifact: "prompt",
      id: "survey",
      path: "prompts/survey.md",
      expected: digestBytes(text),
      actual: digestBytes(forged),
      message: "prompts/survey.md does not match its packet",
    });
  });

  it("a gate the plan still needs is fresh; a changed or dropped one is stale", () => {
    expect(gateStaleness(gateEntry("write"), built)).toBeNull();
    expect(gateStaleness({ ...gateEntry("write"), digest: D1 }, built)?.message).toBe(
      "the plan has changed gate write",
    );
    expect(gateStaleness({ gate_id: "gone", digest: D1 } as RunGateEntry, built)).toMatchObject({
      code: "ERR_RESUME_STALE_GATE",
      path: "gates/gone.json",
      actual: null,
      message: "the plan no longer needs gate gone",
    });
  });

  it("packets and gates the plan adds, in the plan's order", () => {
    const indexed = ["survey", "review"].map(packetEntry);
    expect(addedPackets(indexed, built).map((i) => [i.code, i.id, i.expected, i.actual])).toEqual([
      ["ERR_RESUME_STALE_PACKET", "implement", built.packetDigests.get("implement"), null],
      ["ERR_RESUME_STALE_PACKET", "human_gate", built.packetDigests.get("human_gate"), null],
    ]);
    const gates = built.gates.map((g) => gateEntry(g.gate_id));
    expect(addedGates(gates, built)).toEqual([]);
    expect(addedGates(gates.slice(1), built).map((i) => [i.id, i.message])).toEqual([
      ["write", "the plan adds gate write, which the run does not have"],
    ]);
  });
});
