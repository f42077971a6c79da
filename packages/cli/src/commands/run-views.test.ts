import fs from "node:fs";
import path from "node:path";
import { digestBytes, writeFileAtomic } from "@dwm/core";
import { openJournal } from "@dwm/runtime";
import { validateSchema } from "@dwm/schemas";
import { FakeClock, makeTempDir, type TempDir, trustTestOperator } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { main } from "../main.js";
import { attestCompleted } from "../test-support/attest.js";
import { writeRunStore } from "../test-support/run-store.js";

let tmp: TempDir;
let store: string;
beforeEach(() => {
  tmp = makeTempDir("dwm-cli-run-");
  fs.mkdirSync(path.join(tmp.path, ".git"));
  // The runner's attestations are signed by the test operator; this "repository" trusts it.
  trustTestOperator(tmp.path);
  store = path.join(tmp.path, ".dwm", "runs");
});
afterEach(() => tmp.cleanup());

async function dwm(...argv: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await main(
    argv,
    { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) },
    { cwd: path.join(tmp.path), env: {}, clock: new FakeClock() },
  );
  return { code, stdout, stderr, json: () => JSON.parse(stdout) };
}

/** inventory completed with evidence, write-gate opened, runner stopped at the gate. */
function progress(runDir: string) {
  const j = openJournal(runDir, {
    clock: new FakeClock("2026-01-01T00:00:00.000Z", 1000),
    pid: 10,
    host: "h",
  });
  const put = (rel: string, text: string) => {
    writeFileAtomic(path.join(runDir, rel), text);
    return { path: rel, digest: digestBytes(text) };
  };
  const d = j.run.packets[0]?.digest ?? "";
  j.append("packet.dispatched", { packet_id: "inventory", attempt: 1, packet_digest: d, base_commit: null });
  const out = put("attempts/inventory/1/stdout", "listed\n");
  j.append("attempt.recorded", {
    packet_id: "inventory",
    attempt: 1,
    outcome: "ok",
    attempt_digest: out.digest,
    files: [out],
  });
  const rv = put("reviews/inventory/1.json", '{"verdict":"approved"}\n');
  j.append("packet.reviewed", {
    packet_id: "inventory",
    attempt: 1,
    verdict: "approved",
    review_digest: rv.digest,
    files: [rv],
  });
  j.append("packet.completed", { packet_id: "inventory", attempt: 1 });
  attestCompleted(j, runDir);
  j.append("gate.opened", {
    gate_id: "write-gate",
    gate_digest: j.run.gates[0]?.digest ?? "",
    packets: ["implement"],
    reason: "implement writes",
  });
  j.append("run.stopped", { reason: "gate", detail: "write-gate" });
  j.close();
}

describe("dwm status", () => {
  it("shows a compiled run that never ran: ready, blocked, and what to run", async () => {
    writeRunStore(store, "demo-0123456789ab");
    const r = await dwm("status", "--json");
    expect(r.code).toBe(0);
    const doc = r.json();
    expect(validateSchema("status-report", doc).problems).toEqual([]);
    expect(
      doc.packets.map((p: { packet_id: string; state: string; gates: string[]; waiting_on: string[] }) => [
        p.packet_id,
        p.state,
        p.gates,
        p.waiting_on,
      ]),
    ).toEqual([
      ["inventory", "ready", [], []],
      ["implement", "blocked", ["write-gate"], ["inventory"]],
      ["review", "blocked", [], ["implement"]],
    ]);
    expect(doc.counts).toEqual({ ready: 1, blocked: 2 });
    expect(doc.next_action).toEqual({
      kind: "run",
      summary: "1 packet(s) ready (inventory); run the workflow to go on.",
      command: "dwm run demo-0123456789ab",
    });
    expect(doc.integrity).toEqual({ ok: true, problems: 0, torn: false, codes: [] });
  });

  it("waits at an open gate and says how to approve it", async () => {
    const { runDir } = writeRunStore(store, "demo-0123456789ab");
    progress(runDir);
    const r = await dwm("status", "--json");
    const doc = r.json();
    expect(r.code).toBe(0);
    expect(validateSchema("status-report", doc).problems).toEqual([]);
    // Eight events and the signed attestation of the completed packet.
    expect(doc.events).toBe(9);
    expect(doc.waiting_gates).toEqual(["write-gate"]);
    expect(doc.stopped).toEqual({ reason: "gate", detail: "write-gate" });
    expect(doc.packets[0]).toEqual({
      packet_id: "inventory",
      state: "completed",
      attempts: 1,
      last_verdict: "approved",
      last_outcome: "ok",
      gates: [],
      waiting_on: [],
      // Its attempt left no attempt.json (this store is made by hand): nothing to count.
      tokens: 0,
      cost_usd: null,
    });
    expect(doc.cost).toEqual({
      attempts: 0,
      input_tokens: 0,
      output_tokens: 0,
      total_tokens: 0,
      usd: null,
      priced: 0,
      unpriced: 0,
    });
    expect(doc.next_action.kind).toBe("approve");
    expect(doc.next_action.command).toBe("dwm approve demo-0123456789ab write-gate");
    const text = await dwm("status");
    expect(text.stdout).toContain("inventory  completed    1         approved");
    expect(text.stdout).toContain("$ dwm approve demo-0123456789ab write-gate");
  });

  it("exits 3 and says to repair when the store was tampered with", async () => {
    const { runDir } = writeRunStore(store, "demo-0123456789ab");
    progress(runDir);
    fs.appendFileSync(path.join(runDir, "attempts/inventory/1/stdout"), "forged\n");
    const r = await dwm("status", "--json");
    expect(r.code).toBe(3);
    // The changed file, and the attestation that no longer holds over it.
    expect(r.json().integrity.codes).toEqual(["ERR_VERIFY_FILE_DIGEST", "ERR_VERIFY_SIGNATURE"]);
    expect(r.json().next_action).toMatchObject({
      kind: "repair-integrity",
      command: "dwm verify demo-0123456789ab",
    });
  });
});

describe("dwm verify", () => {
  it("exits 0 on an intact run and 3 on any problem, with file, code and digests", async () => {
    const { runDir } = writeRunStore(store, "demo-0123456789ab");
    progress(runDir);
    const ok = await dwm("verify", "--json");
    expect(ok.code).toBe(0);
    expect(ok.json()).toMatchObject({ ok: true, events: 9, problems: [] });
    const prompt = path.join(runDir, "prompts/review.md");
    fs.writeFileSync(prompt, "# review, edited\n");
    const bad = await dwm("verify", "demo-0123456789ab", "--json");
    expect(bad.code).toBe(3);
    const doc = bad.json();
    expect(validateSchema("verify-report", doc).problems).toEqual([]);
    expect(doc.problems).toEqual([
      {
        code: "ERR_VERIFY_FILE_DIGEST",
        file: "prompts/review.md",
        message: "prompts/review.md does not match the digest recorded for it",
        expected: digestBytes("# review\n"),
        actual: digestBytes("# review, edited\n"),
        repairable: false,
      },
    ]);
    const text = await dwm("verify");
    expect(text.code).toBe(3);
    expect(text.stdout).toContain("ERR_VERIFY_FILE_DIGEST  prompts/review.md");
  });
});

describe("dwm log", () => {
  it("prints the journal, filtered by packet or type", async () => {
    const { runDir } = writeRunStore(store, "demo-0123456789ab");
    progress(runDir);
    const all = await dwm("log", "--json");
    expect(all.code).toBe(0);
    const doc = all.json();
    expect(validateSchema("journal-log", doc).problems).toEqual([]);
    expect(doc.total).toBe(9);
    expect(doc.events.map((e: { type: string }) => e.type)).toEqual([
      "run.opened",
      "lease.taken",
      "packet.dispatched",
      "attempt.recorded",
      "packet.reviewed",
      "packet.completed",
      "attestation.recorded",
      "gate.opened",
      "run.stopped",
    ]);
    const gate = await dwm("log", "--type", "gate", "--json");
    expect(gate.json().events.map((e: { seq: number }) => e.seq)).toEqual([8]);
    const impl = await dwm("log", "--packet", "implement", "--json");
    expect(impl.json().events.map((e: { seq: number }) => e.seq)).toEqual([8]);
    const text = await dwm("log");
    expect(text.stdout.split("\n")[4]).toBe(
      // The type column is as wide as the longest type shown (attestation.recorded).
      "    4  2026-01-01T00:00:06.000Z  attempt.recorded      inventory attempt=1 outcome=ok files=1",
    );
  });

  it("refuses a journal with an altered line (exit 3)", async () => {
    const { runDir } = writeRunStore(store, "demo-0123456789ab");
    progress(runDir);
    const file = path.join(runDir, "journal.jsonl");
    fs.writeFileSync(
      file,
      fs.readFileSync(file, "utf8").replace('"reason":"implement writes"', '"reason":"implement reads"'),
    );
    const r = await dwm("log");
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("ERR_VERIFY_EVENT_DIGEST");
  });
});

describe("[run] resolution", () => {
  it("fails clearly with no run, or an unknown one", async () => {
    const none = await dwm("status");
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("ERR_CLI_NO_RUNS");
    writeRunStore(store, "demo-0123456789ab");
    const unknown = await dwm("verify", "nope", "--json");
    expect(unknown.code).toBe(1);
    expect(unknown.json().error).toMatchObject({
      code: "ERR_CLI_RUN_NOT_FOUND",
      details: { available: ["demo-0123456789ab"] },
    });
  });

  it("defaults to the run whose journal changed last; takes an id, a path or --store", async () => {
    const a = writeRunStore(store, "a-run");
    const b = writeRunStore(store, "b-run");
    progress(a.runDir);
    progress(b.runDir);
    fs.utimesSync(path.join(a.runDir, "journal.jsonl"), new Date(2030, 0, 1), new Date(2030, 0, 1));
    expect((await dwm("log", "--json")).json().run_id).toBe("a-run");
    fs.utimesSync(path.join(b.runDir, "journal.jsonl"), new Date(2031, 0, 1), new Date(2031, 0, 1));
    expect((await dwm("log", "--json")).json().run_id).toBe("b-run");
    expect((await dwm("log", "a-run", "--json")).json().run_id).toBe("a-run");
    expect((await dwm("log", "./.dwm/runs/a-run", "--json")).json().run_id).toBe("a-run");
    writeRunStore(path.join(tmp.path, "elsewhere"), "c-run");
    const other = await dwm("status", "--store", "elsewhere", "--json");
    expect(other.json().run_id).toBe("c-run");
    expect(other.json().next_action.command).toBe("dwm run c-run --store elsewhere");
  });
});
