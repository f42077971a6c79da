// Journal cost: append throughput with fsync against plain appendFileSync+fsync of
// lines of the same size, and readJournal / foldJournal / verifyRun over journals of
// 10,000 and 100,000 events against JSON.parse of the same lines. Needs `pnpm build`.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { median, repoRoot, writeResult } from "../lib.mjs";

const load = (pkg) => import(pathToFileURL(path.join(repoRoot, "packages", pkg, "dist", "index.js")).href);

const fixedClock = { now: () => "2026-01-01T00:00:00.000Z", monotonicMs: () => 0 };

function makeRunStore(core, dir, packetCount) {
  const runDir = path.join(dir, "run");
  fs.mkdirSync(runDir, { recursive: true });
  const example = JSON.parse(
    fs.readFileSync(path.join(repoRoot, "schemas/examples/packet/valid/inventory.json"), "utf8"),
  );
  const plan = { schema_version: "0.6", plan_id: "bench" };
  // verifyRun checks scorecard.json against its schema: the schema's own valid example.
  const scorecard = JSON.parse(
    fs.readFileSync(path.join(repoRoot, "schemas/examples/scorecard/valid/activated.json"), "utf8"),
  );
  core.writeFileAtomic(path.join(runDir, "plan.json"), core.renderArtifact(plan));
  core.writeFileAtomic(path.join(runDir, "scorecard.json"), core.renderArtifact(scorecard));
  core.writeFileAtomic(
    path.join(runDir, ".dwm-run"),
    core.renderArtifact({ kind: "run-marker", schema_version: "1", run_id: "bench-0123456789ab" }),
  );
  const packets = [];
  for (let i = 0; i < packetCount; i++) {
    const id = `p${String(i).padStart(3, "0")}`;
    const doc = { ...example, packet_id: id };
    core.writeFileAtomic(path.join(runDir, "packets", `${id}.json`), core.renderArtifact(doc));
    const prompt = `# ${id}\n`;
    core.writeFileAtomic(path.join(runDir, "prompts", `${id}.md`), prompt);
    packets.push({
      packet_id: id,
      digest: core.digest(doc),
      prompt_digest: core.digestBytes(prompt),
      depends_on: [],
    });
  }
  const run = {
    kind: "run",
    schema_version: "1",
    run_id: "bench-0123456789ab",
    plan_id: "bench",
    plan_schema_version: "0.6",
    plan_digest: core.digest(plan),
    scorecard_digest: core.digest(scorecard),
    compiler_version: "0.1.0",
    revision: 1,
    base_commit: null,
    packets,
    gates: [],
    handoffs: [],
  };
  core.writeArtifact(path.join(runDir, "run.json"), "run", run);
  return { runDir, run };
}

/** A legal history of `n` events: packets cycle dispatch → attempt → changes requested → repair. */
function writeJournal(core, runDir, run, n) {
  const z = `sha256:${"0".repeat(64)}`;
  const lines = [];
  let prev = core.digest(run);
  const attempts = new Map();
  const push = (type, data) => {
    const body = { seq: lines.length + 1, prev, type, at: fixedClock.now(), data };
    const c = core.canonicalJson(body);
    const d = core.digestBytes(c);
    lines.push(core.canonicalJson({ ...body, digest: d }));
    prev = d;
  };
  push("run.opened", {
    run_digest: prev,
    plan_digest: run.plan_digest,
    revision: 1,
    packets: run.packets.map((p) => p.packet_id),
    gates: [],
  });
  const ids = run.packets.map((p) => p.packet_id);
  let k = 0;
  while (lines.length < n) {
    const id = ids[k % ids.length];
    const a = (attempts.get(id) ?? 0) + 1;
    attempts.set(id, a);
    push("packet.dispatched", { packet_id: id, attempt: a, packet_digest: z, base_commit: null });
    push("attempt.recorded", { packet_id: id, attempt: a, outcome: "ok", attempt_digest: z, files: [] });
    push("packet.reviewed", {
      packet_id: id,
      attempt: a,
      verdict: "changes-requested",
      review_digest: z,
      files: [],
    });
    push("repair.scheduled", { packet_id: id, next_attempt: a + 1, reason: "findings" });
    k++;
  }
  const text = `${lines.slice(0, n).join("\n")}\n`;
  fs.writeFileSync(path.join(runDir, "journal.jsonl"), text);
  return text;
}

function timeIt(runs, f) {
  const times = [];
  let out;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    out = f();
    times.push(performance.now() - t0);
  }
  return { ms: median(times), out };
}

export async function run({ quick }) {
  const core = await load("core");
  const rt = await load("runtime");
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-bench-journal-"));
  const rows = [];
  try {
    // Append throughput, fsync per event.
    const appends = quick ? 300 : 2000;
    const { runDir: aDir } = makeRunStore(core, path.join(tmp, "append"), 10);
    const j = rt.openJournal(aDir, { clock: fixedClock, pid: 1, host: "bench", leaseMs: 3_600_000 });
    const t0 = performance.now();
    for (let i = 0; i < appends; i++) j.append("lease.taken", { pid: i, host: "bench" });
    const appendMs = performance.now() - t0;
    j.close();
    const sample = fs.readFileSync(path.join(aDir, "journal.jsonl"), "utf8").split("\n").at(-2);
    const floorFile = path.join(tmp, "floor.jsonl");
    const fd = fs.openSync(floorFile, "a");
    const f0 = performance.now();
    for (let i = 0; i < appends; i++) {
      fs.writeFileSync(fd, `${sample}\n`);
      fs.fsyncSync(fd);
    }
    const floorMs = performance.now() - f0;
    fs.closeSync(fd);
    const eps = (appends / appendMs) * 1000;
    const floorEps = (appends / floorMs) * 1000;
    rows.push({
      case: `append ${appends} events, fsync each (floor: write+fsync)`,
      value: `${eps.toFixed(0)} ev/s`,
      floor: `${floorEps.toFixed(0)} ev/s`,
      ratio: (floorEps / eps).toFixed(2),
    });

    for (const n of quick ? [5_000] : [10_000, 100_000]) {
      const { runDir, run } = makeRunStore(core, path.join(tmp, `n${n}`), 50);
      const text = writeJournal(core, runDir, run, n);
      const runs = 3;
      const floor = timeIt(runs, () => {
        const t = fs.readFileSync(path.join(runDir, "journal.jsonl"), "utf8");
        return t
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l)).length;
      });
      const read = timeIt(runs, () => rt.readJournal(runDir));
      const fold = timeIt(runs, () => rt.foldJournal(read.out.events, run));
      const verify = timeIt(runs, () => rt.verifyRun(runDir));
      if (!verify.out.ok)
        throw new Error(`bench journal does not verify: ${JSON.stringify(verify.out.problems.slice(0, 3))}`);
      if (fold.out.seq !== n) throw new Error(`fold saw ${fold.out.seq} events, expected ${n}`);
      const mb = (Buffer.byteLength(text) / 2 ** 20).toFixed(1);
      const row = (what, t) => ({
        case: `${what} ${n} events (${mb} MiB)`,
        value: `${t.ms.toFixed(0)} ms`,
        floor: `${floor.ms.toFixed(0)} ms`,
        ratio: (t.ms / floor.ms).toFixed(2),
        peak_rss_mib: "",
      });
      rows.push(
        row("readJournal (parse+schema+digest+chain)", read),
        row("foldJournal", fold),
        row("verifyRun (whole store)", verify),
      );
      // This process's peak so far: sizes run smallest first, so it is the peak of this size.
      rows.at(-1).peak_rss_mib = (process.resourceUsage().maxRSS / 1024).toFixed(0);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  writeResult("journal", {
    rows,
    note: "floor for append: appendFileSync+fsync of same-size lines; floor for read/fold/verify: reading and JSON.parse of the same lines; value = median of 3 runs; peak_rss = the scenario process's peak after each size",
  });
  return rows;
}
