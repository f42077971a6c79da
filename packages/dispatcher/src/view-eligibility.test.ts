// viewEligibility on real compiled packets: the example fan-out's item packets (expanded as the
// run expands them) and every packet of the reference plans.
import fs from "node:fs";
import path from "node:path";
import { compilePlan } from "@dwm/compiler";
import { digestBytes } from "@dwm/core";
import { viewEligibility } from "@dwm/executor";
import { expandFanout } from "@dwm/ingester";
import type { Packet, RunState } from "@dwm/schemas";
import { makeGitRepo, referencePlansDir, requirePart } from "@dwm/test-utils";
import { describe, expect, it } from "vitest";

const EXAMPLES = path.resolve(import.meta.dirname, "../../../examples");

function compiled(planFile: string): Packet[] {
  const repo = makeGitRepo({ "README.md": "# r\n" });
  try {
    const plan = JSON.parse(fs.readFileSync(planFile, "utf8"));
    return compilePlan(plan, { repoRoot: repo.path, baseCommit: null }).packets;
  } finally {
    repo.cleanup();
  }
}

function verdicts(packets: readonly Packet[]): Record<string, string> {
  return Object.fromEntries(
    packets.map((p) => {
      const v = viewEligibility(p);
      return [p.packet_id, v.eligible ? `view ${v.folder}/` : v.reason];
    }),
  );
}

describe("viewEligibility", () => {
  it("puts the example fan-out's item packets in the view, and keeps the list, the reduce and the gate in checkouts", () => {
    const packets = compiled(path.join(EXAMPLES, "fan-out", "workflow.plan.json"));
    const templates = packets.filter((p) => p.fanout?.role === "template");
    const list = Buffer.from(JSON.stringify([{ id: "intro", path: "docs/intro.md" }]));
    const expanded = expandFanout({
      state: { fanouts: {} } as unknown as RunState,
      templates: templates.map((packet) => ({ packet, digest: digestBytes(JSON.stringify(packet)) })),
      source: { artifact: "items/documents.json", digest: digestBytes(list), bytes: list },
    });
    if (expanded.kind !== "expanded") throw new Error(`not expanded: ${expanded.kind}`);
    expect(verdicts(expanded.packets.map((p) => p.packet))).toEqual({
      // A command item writes only its folder.
      "measure/intro-e0344588": "view measure/intro-e0344588/",
      // The grade worker owns the whole phase folder: it may write other items' grades, which a view would refuse.
      "grade/intro-e0344588": 'worker grade-worker owns "grade/", outside grade/intro-e0344588/',
    });
    expect(verdicts(packets.filter((p) => p.fanout?.role !== "template"))).toEqual({
      list: "declared output items/documents.json is outside list/",
      report: "declared output reports/summary.md is outside report/",
      accept: "the packet has no workers",
    });
  });

  it("keeps every packet of the reference plans in a checkout: each writes, or declares outputs, outside its own folder", () => {
    requirePart("reference-plans");
    const dir = referencePlansDir();
    if (dir === null) return;
    let n = 0;
    for (const f of fs
      .readdirSync(dir)
      .filter((x) => x.endsWith(".json"))
      .sort()) {
      let packets: Packet[];
      try {
        packets = compiled(path.join(dir, f));
      } catch {
        continue; // a plan that does not activate compiles nothing
      }
      for (const p of packets) {
        const v = viewEligibility(p);
        expect(v.eligible, `${f} ${p.packet_id}`).toBe(false);
        n++;
      }
    }
    expect(n).toBeGreaterThan(20);
  });
});
