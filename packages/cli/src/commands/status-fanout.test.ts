import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { compilePlan } from "@dwm/compiler";
import { type Digest, digestBytes, writeFileAtomic } from "@dwm/core";
import { expandFanout, writeFanoutFiles } from "@dwm/ingester";
import { openJournal } from "@dwm/runtime";
import type { Packet } from "@dwm/schemas";
import { validateSchema } from "@dwm/schemas";
import { FakeClock, makeTempDir, type TempDir, trustTestOperator } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { main } from "../main.js";
import { attestCompleted } from "../test-support/attest.js";

const PLAN = fileURLToPath(new URL("../../../../examples/fan-out/workflow.plan.json", import.meta.url));

let tmp: TempDir;
beforeEach(() => {
  tmp = makeTempDir("dwm-cli-status-fan-");
  fs.mkdirSync(path.join(tmp.path, ".git"));
  // The runner's attestations are signed by the test operator; this "repository" trusts it.
  trustTestOperator(tmp.path);
});
afterEach(() => tmp.cleanup());

async function dwm(...argv: string[]) {
  let stdout = "";
  const code = await main(
    argv,
    { stdout: (s) => (stdout += s), stderr: () => {} },
    { cwd: tmp.path, env: {}, clock: new FakeClock() },
  );
  return { code, stdout };
}

/** list completed (3 items), the fan-out expanded, one measure item failed, one completed. */
function fanoutRun(): { runId: string; ids: string[] } {
  const c = compilePlan(JSON.parse(fs.readFileSync(PLAN, "utf8")), { repoRoot: tmp.path, baseCommit: null });
  const j = openJournal(c.runDir, {
    clock: new FakeClock("2026-01-01T00:00:00.000Z", 1000),
    pid: 1,
    host: "h",
  });
  const put = (rel: string, text: string) => {
    writeFileAtomic(path.join(c.runDir, rel), text);
    return { path: rel, digest: digestBytes(text) };
  };
  const attempt = (id: string, verdict: "approved" | "changes-requested") => {
    const digest = (c.run.packets.find((p) => p.packet_id === id)?.digest ??
      j.state.fanouts?.measure?.packets.find((p) => p.packet_id === id)?.digest) as Digest;
    j.append("packet.dispatched", { packet_id: id, attempt: 1, packet_digest: digest, base_commit: null });
    const out = put(`attempts/${id}/1/stdout`, "ok\n");
    j.append("attempt.recorded", {
      packet_id: id,
      attempt: 1,
      outcome: "ok",
      attempt_digest: out.digest,
      files: [out],
    });
    const rv = put(`reviews/${id}/1.json`, `{"verdict":"${verdict}"}\n`);
    j.append("packet.reviewed", {
      packet_id: id,
      attempt: 1,
      verdict,
      review_digest: rv.digest,
      files: [rv],
    });
  };
  attempt("list", "approved");
  const items = `${JSON.stringify([
    { id: "a", path: "docs/a.md" },
    { id: "b", path: "docs/b.md" },
    { id: "c", path: "docs/c.md" },
  ])}\n`;
  const h = put("handoffs/items/documents.json", items);
  j.append("handoff.registered", {
    artifact: "items/documents.json",
    from_packet: "list",
    digest: h.digest,
    files: [h],
  });
  j.append("packet.completed", { packet_id: "list", attempt: 1 });
  const templates = ["measure", "grade"].map((id) => ({
    packet: c.packets.find((p) => p.packet_id === id) as Packet,
    digest: c.run.packets.find((p) => p.packet_id === id)?.digest as Digest,
  }));
  const x = expandFanout({
    state: j.state,
    templates,
    source: { artifact: "items/documents.json", digest: h.digest, bytes: Buffer.from(items) },
  });
  if (x.kind !== "expanded") throw new Error(x.kind);
  writeFanoutFiles(c.runDir, x.files);
  for (const e of x.events) j.append(e.type, e.data as never);
  const ids = x.packets.map((p) => p.packet.packet_id);
  const [ma, , mb] = ids as [string, string, string];
  attempt(ma, "changes-requested");
  j.append("packet.failed", {
    packet_id: ma,
    reason: "changes requested after 0 repairs: REVIEW_CHECK_FAILED",
  });
  attempt(mb, "approved");
  j.append("packet.completed", { packet_id: mb, attempt: 1 });
  attestCompleted(j, c.runDir);
  j.close();
  return { runId: c.runId, ids };
}

describe("dwm status: fan-out", () => {
  it("groups item packets under their per-item phase: counts by state, the failing items with why", async () => {
    const { runId, ids } = fanoutRun();
    const [ma, ga, mb, gb] = ids as [string, string, string, string];
    const r = await dwm("status", runId, "--json");
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(validateSchema("status-report", s).problems).toEqual([]);
    expect(s.fanouts).toEqual([
      {
        phase: "measure",
        first: "measure",
        source_packet: "list",
        items: 3,
        counts: { failed: 1, completed: 1, ready: 1 },
        failing: [
          {
            packet_id: ma,
            state: "failed",
            reason: "changes requested after 0 repairs: REVIEW_CHECK_FAILED",
          },
        ],
      },
      {
        phase: "grade",
        first: "measure",
        source_packet: "list",
        items: 3,
        counts: { blocked: 2, ready: 1 },
        failing: [],
      },
    ]);
    const rows = new Map(s.packets.map((p: { packet_id: string }) => [p.packet_id, p]));
    expect(rows.get("measure")).toMatchObject({ state: "expanded" });
    expect(rows.get(ga)).toMatchObject({ state: "blocked", waiting_on: [ma] });
    expect(rows.get(gb)).toMatchObject({ state: "ready", waiting_on: [] });
    expect(rows.get("report")).toMatchObject({ state: "blocked", waiting_on: ["grade"] });
    expect(s.counts).toMatchObject({ expanded: 2, completed: 2, failed: 1 });

    const text = (await dwm("status", runId)).stdout;
    expect(text).toContain("fan-out measure (items of list): 3 item packets: completed 1, failed 1, ready 1");
    expect(text).toContain(`  failed ${ma}: changes requested after 0 repairs: REVIEW_CHECK_FAILED`);
    expect(text).toContain("fan-out grade (with measure, items of list): 3 item packets: blocked 2, ready 1");
    expect(text).not.toContain(`\n${mb} `);
  });
});

describe("dwm next: fan-out", () => {
  it("places item packets by their own dependencies and gates: an item after a failed one is not ready", async () => {
    const { runId, ids } = fanoutRun();
    const [ma, ga, mb, , mc, gc] = ids as [string, string, string, string, string, string];
    const r = await dwm("next", runId, "--json");
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(validateSchema("next-action", s).problems).toEqual([]);
    // The runner would not dispatch anything here: measure/c waits for the shell-process gate,
    // grade/a for the failed measure/a. Without the item packets, next called them ready.
    expect(s).toMatchObject({
      action: "approve-gate",
      gate_id: "shell-process",
      frontier_status: "gate",
      argv: ["dwm", "approve", runId, "shell-process"],
    });
    expect(s.reason).toContain(`it holds ${mc}`);
    for (const id of [ma, ga, mb, gc]) expect(s.reason).not.toContain(id);
  });

  it("a changed item packet file is a store to repair, not a plan to run", async () => {
    const { runId, ids } = fanoutRun();
    const file = path.join(tmp.path, ".dwm", "runs", runId, "packets", `${ids[5]}.json`);
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("grade", "gradE"));
    const s = JSON.parse((await dwm("next", runId, "--json")).stdout);
    expect(s.action).toBe("repair-store");
  });
});
