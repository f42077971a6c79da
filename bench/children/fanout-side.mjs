// One side of the fan-out scenario in a process of its own:
//   node fanout-side.mjs expand N   expansion alone: expandFanout of N items, the item packet files, the
//                                   fanout.expanded append and the fold of it (no worktree, nothing runs);
//                                   floor: writing the same files with fs and one sync
//   node fanout-side.mjs run N      runWorkflow on a schema-0.6 fan-out of N no-op command items at concurrency 8
// Prints one JSON line: { ms, ... }.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { load } from "../lib.mjs";
import { benchPlan, makeRepo, preparedRun } from "../plans.mjs";

/** A 0.6 plan: `seed` lists N items, `each` (a no-op command) fans out over them, `done` reduces. */
export function fanoutPlan(n) {
  const base = benchPlan({});
  return benchPlan({
    schema_version: "0.6",
    plan_id: `bench-fanout-${n}`,
    source_prompt: "Measure fan-out.",
    objective: `Fan out over ${n} no-op items.`,
    activation: {
      ...base.activation,
      matched_thresholds: ["multi-surface-fanout", "planned-fanout", "resumable-handoffs"],
      reason: "Many items fan out.",
    },
    handoffs: [
      {
        artifact: "items.json",
        from_phase: "seed",
        to_phase: "each",
        artifact_schema: {
          format: "json-list",
          required_fields: ["id"],
          validation_command: "test -s items.json",
        },
      },
    ],
    parallelism: { ...base.parallelism, fan_in_rule: "the reduce waits for every item" },
    phases: [
      {
        id: "seed",
        name: "seed",
        depends_on: [],
        entry_criteria: ["none"],
        exit_criteria: ["items.json"],
        outputs: ["items.json"],
        worker_ids: [],
        command: {
          run: [
            "node",
            "-e",
            `require("fs").writeFileSync("items.json", JSON.stringify(Array.from({ length: ${n} }, (_, i) => ({ id: "i" + String(i + 1).padStart(6, "0") }))))`,
          ],
        },
      },
      {
        id: "each",
        name: "each",
        depends_on: ["seed"],
        entry_criteria: ["an item"],
        exit_criteria: ["exit 0"],
        outputs: ["nothing"],
        worker_ids: [],
        command: { run: ["true"] },
        fan_out: { over: "items.json", key: "id", max_items: n, pipeline: [], reduce: "done" },
      },
      {
        id: "done",
        name: "done",
        depends_on: ["each"],
        entry_criteria: ["every item"],
        exit_criteria: ["exit 0"],
        outputs: ["nothing"],
        worker_ids: ["noop"],
      },
    ],
    resume: { cacheable_outputs: ["items.json"], invalidators: ["plan changes"], restart_points: ["seed"] },
    risk_gates: [
      ...base.risk_gates,
      {
        requires_user_approval: true,
        safe_default: { action: "stop", before: "shell-process" },
        trigger: "shell command execution",
      },
    ],
    verification: [
      {
        claim_or_output: "every item exits 0",
        evidence_required: ["attempts"],
        falsifier: "a non-zero exit",
      },
    ],
  });
}

const items = (n) =>
  Buffer.from(
    JSON.stringify(Array.from({ length: n }, (_, i) => ({ id: `i${String(i + 1).padStart(6, "0")}` }))),
  );

/** Expansion alone, timed step by step: pure expansion, files, journal append (fsync), fold on open. */
async function expand(n) {
  const [{ compilePlan }, core, runtime, ingester] = await Promise.all([
    load("compiler"),
    load("core"),
    load("runtime"),
    load("ingester"),
  ]);
  const { dir, head } = makeRepo("dwm-bench-fanout-");
  const c = compilePlan(fanoutPlan(n), { repoRoot: dir, baseCommit: head });
  const journal = runtime.openJournal(c.runDir, { clock: core.systemClock });
  const bytes = items(n);
  // What the run did before the expansion: seed completed with its handoff registered.
  fs.mkdirSync(path.join(c.runDir, "handoffs"), { recursive: true });
  fs.writeFileSync(path.join(c.runDir, "handoffs", "items.json"), bytes);
  const d = core.digestBytes(bytes);
  const entry = c.run.packets.find((p) => p.packet_id === "seed");
  journal.appendAll([
    {
      type: "packet.dispatched",
      data: { packet_id: "seed", attempt: 1, packet_digest: entry.digest, base_commit: head },
    },
    {
      type: "attempt.recorded",
      data: { packet_id: "seed", attempt: 1, outcome: "ok", attempt_digest: d, files: [] },
    },
    {
      type: "packet.reviewed",
      data: { packet_id: "seed", attempt: 1, verdict: "approved", review_digest: d, files: [] },
    },
    {
      type: "handoff.registered",
      data: { artifact: "items.json", from_packet: "seed", digest: d, files: [] },
    },
    { type: "packet.completed", data: { packet_id: "seed", attempt: 1 } },
  ]);
  const each = c.packets.find((p) => p.packet_id === "each");
  const templates = [{ packet: each, digest: c.run.packets.find((p) => p.packet_id === "each").digest }];
  const t0 = performance.now();
  const x = ingester.expandFanout({
    state: journal.state,
    templates,
    source: { artifact: "items.json", digest: d, bytes },
  });
  const t1 = performance.now();
  ingester.writeFanoutFiles(c.runDir, x.files);
  const t2 = performance.now();
  journal.appendAll(x.events);
  const t3 = performance.now();
  journal.close();
  const t4 = performance.now();
  const { events } = runtime.readJournal(c.runDir);
  const state = runtime.foldJournal(events, c.run);
  const t5 = performance.now();
  if (Object.keys(state.packets).length !== n + 3) throw new Error("fold lost packets");
  const eventBytes = fs.statSync(path.join(c.runDir, "journal.jsonl")).size;
  // The floor: the same files (count and bytes) written with fs, made durable with one sync.
  const floorDir = path.join(dir, "floor");
  const f0 = performance.now();
  for (const f of x.files) {
    const abs = path.join(floorDir, f.path);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, f.text);
  }
  spawnSync("sync", ["-f", floorDir]);
  const floorMs = performance.now() - f0;
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    ms: t3 - t0,
    expand_ms: t1 - t0,
    files_ms: t2 - t1,
    append_ms: t3 - t2,
    fold_ms: t5 - t4,
    floor_ms: floorMs,
    journal_kib: eventBytes / 1024,
  };
}

/** runWorkflow on the fan-out plan to completion (compile excluded), like the run-loop scenario's dwm side. */
async function run(n) {
  const { uniformBindings } = await load("executor");
  const r = await preparedRun(fanoutPlan(n), uniformBindings({ backend: "shell", argv: ["true"] }), {
    prefix: "dwm-bench-fanout-",
    categories: ["write", "shell-process"],
  });
  const wtRoot = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-bench-fanout-wt-"));
  const t0 = performance.now();
  const out = await r.start({ worktreeRoot: wtRoot });
  const ms = performance.now() - t0;
  if (out.status !== "complete") throw new Error(`fanout bench: ${out.status}: ${out.detail}`);
  if ((out.counts.completed ?? 0) !== n + 2) throw new Error(`fanout bench: ${JSON.stringify(out.counts)}`);
  fs.rmSync(r.dir, { recursive: true, force: true });
  fs.rmSync(wtRoot, { recursive: true, force: true });
  return { ms };
}

const [side, n] = process.argv.slice(2);
if (side === "expand" || side === "run") {
  const r = side === "expand" ? await expand(Number(n)) : await run(Number(n));
  console.log(JSON.stringify({ ...r, rssMiB: process.resourceUsage().maxRSS / 1024 }));
}
