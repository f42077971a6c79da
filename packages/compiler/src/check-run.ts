import fs from "node:fs";
import path from "node:path";
import { type Digest, digest, digestBytes, isDwmError } from "@dwm/core";
import { loadPlanFile } from "@dwm/plan-evaluator";
import type { Gate, Invalidator, Packet, Run } from "@dwm/schemas";
import { buildCompiled } from "./compile-plan.js";
import type { BuiltRun } from "./internal/build.js";
import { renderPrompt } from "./internal/prompt.js";
import { checkJson, readRunFile, runDirProblem } from "./internal/read.js";
import { MARKER_FILE, readMarker } from "./internal/store.js";
import { COMPILER_VERSION } from "./version.js";

type Code = Invalidator["code"];
type Kind = Invalidator["artifact"];

/**
 * Staleness check of a run against the current plan file: recompute everything
 * from the plan and compare it, and every file in the store, with run.json.
 * Returns one invalidator per changed or missing artifact, in a fixed order
 * (marker, run.json, compiler, plan, plan snapshot, scorecard, packets and their
 * prompts in run order, gates). Read-only: it never writes or repairs anything.
 */
export function checkRun(runDir: string, planPath: string): Invalidator[] {
  const dir = path.resolve(runDir);
  const out: Invalidator[] = [];
  const add = (
    code: Code,
    artifact: Kind,
    id: string,
    p: string | null,
    expected: string | null,
    actual: string | null,
    message: string,
  ) => out.push({ code, artifact, id, path: p, expected, actual, message });

  const dirProblem = runDirProblem(dir);
  if (dirProblem) {
    add("ERR_RESUME_MISSING_ARTIFACT", "run", "run.json", "run.json", null, null, dirProblem);
    return out;
  }
  const runFile = readRunFile(dir, "run.json");
  const run = runFile.ok ? checkJson<Run>(runFile.text, runFile.bytes, "run") : null;
  if (!runFile.ok || !run?.ok) {
    const reason = !runFile.ok ? runFile.reason : `run.json ${run && !run.ok ? run.reason : "is unreadable"}`;
    add("ERR_RESUME_MISSING_ARTIFACT", "run", "run.json", "run.json", null, run ? run.digest : null, reason);
    return out;
  }
  const r = run.value;

  const owner = readMarker(dir);
  if (owner !== r.run_id) {
    add(
      "ERR_RESUME_MISSING_ARTIFACT",
      "marker",
      MARKER_FILE,
      MARKER_FILE,
      r.run_id,
      owner,
      owner === null ? `${MARKER_FILE} is missing or malformed` : `${MARKER_FILE} names run ${owner}`,
    );
  }

  if (r.compiler_version !== COMPILER_VERSION) {
    add(
      "ERR_RESUME_STALE_COMPILER",
      "compiler",
      "compiler",
      null,
      r.compiler_version,
      COMPILER_VERSION,
      `the run was compiled by compiler ${r.compiler_version}; this is ${COMPILER_VERSION}`,
    );
  }

  // The current plan, rebuilt in memory.
  let rebuilt: BuiltRun | null = null;
  let planValue: unknown;
  let planRead = false;
  try {
    planValue = loadPlanFile(planPath).plan;
    planRead = true;
  } catch (e) {
    const missing = isDwmError(e) && e.code === "ERR_PLAN_UNREADABLE" && !fs.existsSync(planPath);
    add(
      missing ? "ERR_RESUME_MISSING_ARTIFACT" : "ERR_RESUME_STALE_PLAN",
      "plan",
      path.basename(planPath),
      planPath,
      r.plan_digest,
      null,
      missing
        ? `the plan ${planPath} is missing`
        : `the plan ${planPath} cannot be read: ${isDwmError(e) ? e.message : String(e)}`,
    );
  }
  if (planRead) {
    const current = safeDigest(planValue);
    let problem: string | null = null;
    try {
      rebuilt = buildCompiled(planValue).built;
    } catch (e) {
      problem = isDwmError(e) ? `${e.code}: ${e.message}` : String(e);
    }
    if (current !== r.plan_digest) {
      add(
        "ERR_RESUME_STALE_PLAN",
        "plan",
        path.basename(planPath),
        planPath,
        r.plan_digest,
        current,
        `the plan has changed since the run was compiled${problem ? `, and no longer compiles (${problem})` : ""}`,
      );
    } else if (problem) {
      // Same plan, but this toolchain refuses it: the evaluator or compiler changed.
      add(
        "ERR_RESUME_STALE_COMPILER",
        "compiler",
        "compiler",
        null,
        r.compiler_version,
        COMPILER_VERSION,
        `the unchanged plan no longer compiles: ${problem}`,
      );
    }
  }

  const snap = readRunFile(dir, "plan.json");
  if (!snap.ok) {
    add(
      "ERR_RESUME_MISSING_ARTIFACT",
      "plan-snapshot",
      "plan.json",
      "plan.json",
      r.plan_digest,
      null,
      snap.reason,
    );
  } else {
    const c = checkJson(snap.text, snap.bytes, null, r.plan_digest);
    if (!c.ok)
      add(
        "ERR_RESUME_STALE_PLAN",
        "plan-snapshot",
        "plan.json",
        "plan.json",
        r.plan_digest,
        c.digest,
        `plan.json ${c.reason}`,
      );
  }
  const sc = readRunFile(dir, "scorecard.json");
  if (!sc.ok) {
    add(
      "ERR_RESUME_MISSING_ARTIFACT",
      "scorecard",
      "scorecard.json",
      "scorecard.json",
      r.scorecard_digest,
      null,
      sc.reason,
    );
  } else {
    const c = checkJson(sc.text, sc.bytes, null, r.scorecard_digest);
    if (!c.ok)
      add(
        "ERR_RESUME_STALE_PLAN",
        "scorecard",
        "scorecard.json",
        "scorecard.json",
        r.scorecard_digest,
        c.digest,
        `scorecard.json ${c.reason}`,
      );
  }

  // Packets and prompts, in run order, then packets the current plan adds.
  const indexed = new Set(r.packets.map((p) => p.packet_id));
  for (const entry of r.packets) {
    const id = entry.packet_id;
    const rel = `packets/${id}.json`;
    const f = readRunFile(dir, rel);
    let stored: Packet | null = null;
    if (!f.ok) {
      add("ERR_RESUME_MISSING_ARTIFACT", "packet", id, rel, entry.digest, null, f.reason);
    } else {
      const c = checkJson<Packet>(f.text, f.bytes, "packet", entry.digest);
      if (!c.ok)
        add("ERR_RESUME_STALE_PACKET", "packet", id, rel, entry.digest, c.digest, `${rel} ${c.reason}`);
      else stored = c.value;
    }
    if (stored && rebuilt) {
      const now = rebuilt.packetDigests.get(id) ?? null;
      if (now !== entry.digest) {
        add(
          "ERR_RESUME_STALE_PACKET",
          "packet",
          id,
          rel,
          entry.digest,
          now,
          now === null ? `the plan no longer has phase ${id}` : `the plan has changed packet ${id}`,
        );
      }
    }
    const promptRel = `prompts/${id}.md`;
    const pf = readRunFile(dir, promptRel);
    if (!pf.ok) {
      add("ERR_RESUME_MISSING_ARTIFACT", "prompt", id, promptRel, entry.prompt_digest, null, pf.reason);
      continue;
    }
    const actual = digestBytes(pf.bytes);
    if (actual !== entry.prompt_digest) {
      add(
        "ERR_RESUME_STALE_PROMPT",
        "prompt",
        id,
        promptRel,
        entry.prompt_digest,
        actual,
        `${promptRel} has changed since the run was compiled`,
      );
    } else if (stored && renderPrompt(stored, entry.digest) !== pf.text) {
      add(
        "ERR_RESUME_STALE_PROMPT",
        "prompt",
        id,
        promptRel,
        digestBytes(renderPrompt(stored, entry.digest)),
        actual,
        `${promptRel} does not match its packet`,
      );
    }
  }
  if (rebuilt) {
    for (const p of rebuilt.packets) {
      if (indexed.has(p.packet_id)) continue;
      const d = rebuilt.packetDigests.get(p.packet_id) as Digest;
      add(
        "ERR_RESUME_STALE_PACKET",
        "packet",
        p.packet_id,
        `packets/${p.packet_id}.json`,
        d,
        null,
        `the plan adds packet ${p.packet_id}, which the run does not have`,
      );
    }
  }

  const gatesIndexed = new Set(r.gates.map((g) => g.gate_id));
  for (const entry of r.gates) {
    const id = entry.gate_id;
    const rel = `gates/${id}.json`;
    const f = readRunFile(dir, rel);
    if (!f.ok) {
      add("ERR_RESUME_MISSING_ARTIFACT", "gate", id, rel, entry.digest, null, f.reason);
      continue;
    }
    const c = checkJson<Gate>(f.text, f.bytes, "gate", entry.digest);
    if (!c.ok) {
      add("ERR_RESUME_STALE_GATE", "gate", id, rel, entry.digest, c.digest, `${rel} ${c.reason}`);
      continue;
    }
    if (rebuilt) {
      const now = rebuilt.gateDigests.get(id) ?? null;
      if (now !== entry.digest) {
        add(
          "ERR_RESUME_STALE_GATE",
          "gate",
          id,
          rel,
          entry.digest,
          now,
          now === null ? `the plan no longer needs gate ${id}` : `the plan has changed gate ${id}`,
        );
      }
    }
  }
  if (rebuilt) {
    for (const g of rebuilt.gates) {
      if (gatesIndexed.has(g.gate_id)) continue;
      add(
        "ERR_RESUME_STALE_GATE",
        "gate",
        g.gate_id,
        `gates/${g.gate_id}.json`,
        rebuilt.gateDigests.get(g.gate_id) as Digest,
        null,
        `the plan adds gate ${g.gate_id}, which the run does not have`,
      );
    }
  }
  return out;
}

function safeDigest(v: unknown): Digest | null {
  try {
    return digest(v);
  } catch {
    return null;
  }
}
