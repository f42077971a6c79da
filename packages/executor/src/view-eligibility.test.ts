import { describe, expect, it } from "vitest";
import { packet, worker } from "./test-support/builders.js";
import { viewEligibility } from "./view-eligibility.js";

const ID = "audit/route-1-0a1b2c3d";
const out = (artifact: string) => ({ artifact, format: "json" as const, required_fields: [] });

describe("viewEligibility (packets of the builders; compiled ones in the dispatcher's test)", () => {
  it("takes read-only workers and writers that own only paths in the packet's folder", () => {
    const ro = packet({
      packet_id: ID,
      workers: [worker("r", { ownership: [] }, { write: false })],
      outputs: [out(`${ID}/r.json`)],
    });
    expect(viewEligibility(ro)).toEqual({ eligible: true, folder: ID });
    const prose = packet({
      packet_id: ID,
      workers: [worker("r", {}, { write: false })],
      outputs: [{ artifact: "a summary" }],
    });
    expect(viewEligibility(prose)).toEqual({ eligible: true, folder: ID });
    for (const own of [[`${ID}/`], [`${ID}/**`], [`./${ID}/r.json`], [ID]]) {
      const w = packet({
        packet_id: ID,
        workers: [worker("w", { ownership: own })],
        outputs: [out(`${ID}/r.json`)],
      });
      expect(viewEligibility(w), own.join()).toEqual({ eligible: true, folder: ID });
    }
  });

  it("refuses whatever may write outside the folder", () => {
    const cases: [Parameters<typeof packet>[0], string][] = [
      [
        { packet_id: ID, workers: [worker("w", { ownership: ["audit/"] })], outputs: [] },
        'worker w owns "audit/", outside audit/route-1-0a1b2c3d/',
      ],
      [
        { packet_id: ID, workers: [worker("w", { ownership: [`${ID}/../x/**`] })], outputs: [] },
        `worker w owns "${ID}/../x/**", outside ${ID}/`,
      ],
      [
        { packet_id: ID, workers: [worker("w", { ownership: [`${ID}-other/**`] })], outputs: [] },
        `worker w owns "${ID}-other/**", outside ${ID}/`,
      ],
      [
        { packet_id: ID, workers: [worker("w", { ownership: ["the API surface"] })], outputs: [] },
        "worker w may write and its ownership names no paths",
      ],
      [
        { packet_id: ID, workers: [worker("w", { ownership: [`${ID}/`, "docs area"] })], outputs: [] },
        "worker w's ownership names areas that are not paths",
      ],
      [
        { packet_id: ID, workers: [worker("r", {}, { write: false })], outputs: [out("reports/r.json")] },
        `declared output reports/r.json is outside ${ID}/`,
      ],
      [
        { packet_id: "build", command: { argv: ["make"] }, workers: [], outputs: [] },
        "a command outside a fan-out has no ownership: it may write anywhere",
      ],
      [{ packet_id: ID, workers: [], outputs: [] }, "the packet has no workers"],
    ];
    for (const [p, reason] of cases) expect(viewEligibility(packet(p))).toEqual({ eligible: false, reason });
  });
});
