import path from "node:path";
import { type Digest, digestBytes } from "@dwm/core";
import type { Gate, Packet, Run } from "@dwm/schemas";
import { compilerErrors } from "./errors.js";
import { renderPrompt } from "./internal/prompt.js";
import { checkJson, readRunFile, runDirProblem } from "./internal/read.js";
import { MARKER_FILE, readMarker } from "./internal/store.js";

/** A run read back from its store, every artifact checked against run.json. */
export interface LoadedRun {
  /** Absolute run directory. */
  runDir: string;
  run: Run;
  /** digest(run.json) */
  runDigest: Digest;
  /** Packets by id, in run order (Map iteration order is run.json's). */
  packets: Map<string, Packet>;
  gates: Map<string, Gate>;
  /** Prompt text by packet id. */
  prompts: Map<string, string>;
}

/**
 * Read a run with verification: run.json (schema, canonical rendering), the
 * ownership marker, and every packet, prompt and gate against the digests in
 * run.json. Read-only. Any mismatch throws a coded integrity error (exit 3):
 * ERR_RESUME_MISSING_ARTIFACT, ERR_RESUME_STALE_PACKET, _PROMPT or _GATE.
 */
export function loadRun(runDir: string): LoadedRun {
  const dir = path.resolve(runDir);
  const missing = (rel: string, reason: string) =>
    compilerErrors.create("ERR_RESUME_MISSING_ARTIFACT", `${path.basename(dir)}: ${reason}`, {
      details: { run_dir: dir, path: rel },
    });

  const dirProblem = runDirProblem(dir);
  if (dirProblem) throw missing(".", dirProblem);
  const runFile = readRunFile(dir, "run.json");
  if (!runFile.ok) throw missing("run.json", runFile.reason);
  const run = checkJson<Run>(runFile.text, runFile.bytes, "run");
  if (!run.ok) throw missing("run.json", `run.json ${run.reason}`);
  const owner = readMarker(dir);
  if (owner !== run.value.run_id) {
    throw missing(
      MARKER_FILE,
      owner === null
        ? `${MARKER_FILE} is missing or malformed`
        : `${MARKER_FILE} names run ${owner}, but run.json is run ${run.value.run_id}`,
    );
  }

  const packets = new Map<string, Packet>();
  const prompts = new Map<string, string>();
  for (const entry of run.value.packets) {
    const rel = `packets/${entry.packet_id}.json`;
    const f = readRunFile(dir, rel);
    if (!f.ok) throw missing(rel, f.reason);
    const p = checkJson<Packet>(f.text, f.bytes, "packet", entry.digest);
    if (!p.ok || p.value.packet_id !== entry.packet_id) {
      throw compilerErrors.create(
        "ERR_RESUME_STALE_PACKET",
        `${rel} ${p.ok ? `names packet ${p.value.packet_id}` : p.reason}`,
        { details: { run_dir: dir, path: rel, expected: entry.digest, actual: p.digest } },
      );
    }
    packets.set(entry.packet_id, p.value);
    const promptRel = `prompts/${entry.packet_id}.md`;
    const pf = readRunFile(dir, promptRel);
    if (!pf.ok) throw missing(promptRel, pf.reason);
    const actual = digestBytes(pf.bytes);
    if (actual !== entry.prompt_digest) {
      throw compilerErrors.create(
        "ERR_RESUME_STALE_PROMPT",
        `${promptRel} has changed since the run was compiled`,
        {
          details: { run_dir: dir, path: promptRel, expected: entry.prompt_digest, actual },
        },
      );
    }
    // Digests can be forged together with run.json; the prompt must still be its packet's rendering.
    if (renderPrompt(p.value, entry.digest) !== pf.text) {
      throw compilerErrors.create(
        "ERR_PROMPT_PACKET_DRIFT",
        `${promptRel} does not match packet ${entry.packet_id}`,
        {
          details: { run_dir: dir, path: promptRel },
        },
      );
    }
    prompts.set(entry.packet_id, pf.text);
  }

  const gates = new Map<string, Gate>();
  for (const entry of run.value.gates) {
    const rel = `gates/${entry.gate_id}.json`;
    const f = readRunFile(dir, rel);
    if (!f.ok) throw missing(rel, f.reason);
    const g = checkJson<Gate>(f.text, f.bytes, "gate", entry.digest);
    if (!g.ok || g.value.gate_id !== entry.gate_id) {
      throw compilerErrors.create(
        "ERR_RESUME_STALE_GATE",
        `${rel} ${g.ok ? `names gate ${g.value.gate_id}` : g.reason}`,
        { details: { run_dir: dir, path: rel, expected: entry.digest, actual: g.digest } },
      );
    }
    gates.set(entry.gate_id, g.value);
  }
  return { runDir: dir, run: run.value, runDigest: run.digest, packets, gates, prompts };
}
