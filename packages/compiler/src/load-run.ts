import path from "node:path";
import { type Digest, digest, readArtifactFile } from "@dwm/core";
import type { Gate, Packet, Run, RunGateEntry, RunPacketEntry } from "@dwm/schemas";
import { compilerErrors } from "./errors.js";
import { renderPrompt } from "./internal/prompt.js";
import { checkRunJson, checkRunText, type RunFileCheck, runDirProblem } from "./internal/read.js";
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
  const { run, runDigest } = loadManifest(dir);
  const packets = new Map<string, Packet>();
  const prompts = new Map<string, string>();
  for (const entry of run.packets) {
    const packet = loadPacket(dir, entry);
    packets.set(entry.packet_id, packet);
    prompts.set(entry.packet_id, loadPrompt(dir, entry, packet));
  }
  const gates = new Map<string, Gate>();
  for (const entry of run.gates) gates.set(entry.gate_id, loadGate(dir, entry));
  return { runDir: dir, run, runDigest, packets, gates, prompts };
}

/** A run's packets and gates, without its prompts: what the scheduler's view of the run needs. */
export type CheckedRun = Omit<LoadedRun, "prompts">;

/**
 * The packets and gates of a run whose store check (@dwm/runtime checkStore) has just passed,
 * `run` and `runDigest` being the run.json it read: each file read and taken only when its value
 * has the digest run.json records and names its own id. The check found each file with that
 * digest to match its schema, so neither the schema nor the canonical rendering is checked again
 * (loadRun does both, and the rendering of every prompt: read-only views that use no prompt need
 * neither). Any other file throws as loadRun would: ERR_RESUME_MISSING_ARTIFACT, _STALE_PACKET, _GATE.
 */
export function loadCheckedRun(runDir: string, run: Run, runDigest: Digest): CheckedRun {
  const dir = path.resolve(runDir);
  const dirProblem = runDirProblem(dir);
  if (dirProblem) throw missing(dir, ".", dirProblem);
  const packets = new Map<string, Packet>();
  for (const entry of run.packets) packets.set(entry.packet_id, loadPacket(dir, entry, true));
  const gates = new Map<string, Gate>();
  for (const entry of run.gates) gates.set(entry.gate_id, loadGate(dir, entry, true));
  return { runDir: dir, run, runDigest, packets, gates };
}

/** A JSON file run.json names, taken when its value has `expected` digest (its schema checked by the store check that vouched for that digest). */
function readChecked<T>(dir: string, rel: string, expected: string): RunFileCheck<T> {
  const r = readArtifactFile(rel, { root: dir, label: "run file" });
  if (!r.ok) return { ok: false, stage: "read", message: r.problem.message, digest: null };
  let value: T;
  try {
    value = JSON.parse(r.bytes.toString("utf8")) as T;
  } catch {
    return { ok: false, stage: "content", message: `${rel} is not valid JSON`, digest: null };
  }
  const d = digest(value);
  if (d !== expected)
    return {
      ok: false,
      stage: "content",
      message: `${rel} has changed since the run was compiled`,
      digest: d,
    };
  return { ok: true, value, digest: d };
}

function missing(dir: string, rel: string, reason: string): Error {
  return compilerErrors.create("ERR_RESUME_MISSING_ARTIFACT", `${path.basename(dir)}: ${reason}`, {
    details: { run_dir: dir, path: rel },
  });
}

/** run.json, checked, and the ownership marker naming it. */
function loadManifest(dir: string): { run: Run; runDigest: Digest } {
  const dirProblem = runDirProblem(dir);
  if (dirProblem) throw missing(dir, ".", dirProblem);
  const run = checkRunJson<Run>(dir, "run.json", "run");
  if (!run.ok) throw missing(dir, "run.json", run.message);
  const owner = readMarker(dir);
  if (owner !== run.value.run_id) {
    throw missing(
      dir,
      MARKER_FILE,
      owner === null
        ? `${MARKER_FILE} is missing or malformed`
        : `${MARKER_FILE} names run ${owner}, but run.json is run ${run.value.run_id}`,
    );
  }
  return { run: run.value, runDigest: run.digest };
}

/** A stored JSON file that must be the artifact run.json names; `named` is the id inside it. */
function loadNamed<T>(
  dir: string,
  rel: string,
  c: RunFileCheck<T>,
  what: {
    code: "ERR_RESUME_STALE_PACKET" | "ERR_RESUME_STALE_GATE";
    noun: string;
    id: string;
    digest: string;
  },
  named: (v: T) => string,
): T {
  if (!c.ok && c.stage === "read") throw missing(dir, rel, c.message);
  if (c.ok && named(c.value) === what.id) return c.value;
  throw compilerErrors.create(what.code, c.ok ? `${rel} names ${what.noun} ${named(c.value)}` : c.message, {
    details: { run_dir: dir, path: rel, expected: what.digest, actual: c.digest },
  });
}

function loadPacket(dir: string, entry: RunPacketEntry, checked = false): Packet {
  const rel = `packets/${entry.packet_id}.json`;
  const c = checked
    ? readChecked<Packet>(dir, rel, entry.digest)
    : checkRunJson<Packet>(dir, rel, "packet", entry.digest);
  const what = {
    code: "ERR_RESUME_STALE_PACKET",
    noun: "packet",
    id: entry.packet_id,
    digest: entry.digest,
  } as const;
  return loadNamed(dir, rel, c, what, (p) => p.packet_id);
}

function loadGate(dir: string, entry: RunGateEntry, checked = false): Gate {
  const rel = `gates/${entry.gate_id}.json`;
  const c = checked
    ? readChecked<Gate>(dir, rel, entry.digest)
    : checkRunJson<Gate>(dir, rel, "gate", entry.digest);
  const what = {
    code: "ERR_RESUME_STALE_GATE",
    noun: "gate",
    id: entry.gate_id,
    digest: entry.digest,
  } as const;
  return loadNamed(dir, rel, c, what, (g) => g.gate_id);
}

/** The packet's prompt: the bytes run.json records, and still the packet's own rendering. */
function loadPrompt(dir: string, entry: RunPacketEntry, packet: Packet): string {
  const rel = `prompts/${entry.packet_id}.md`;
  const c = checkRunText(dir, rel, entry.prompt_digest);
  if (!c.ok && c.stage === "read") throw missing(dir, rel, c.message);
  if (!c.ok) {
    throw compilerErrors.create("ERR_RESUME_STALE_PROMPT", c.message, {
      details: { run_dir: dir, path: rel, expected: entry.prompt_digest, actual: c.digest },
    });
  }
  // Digests can be forged together with run.json; the prompt must still be its packet's rendering.
  if (renderPrompt(packet, entry.digest) !== c.value) {
    throw compilerErrors.create(
      "ERR_PROMPT_PACKET_DRIFT",
      `${rel} does not match packet ${entry.packet_id}`,
      {
        details: { run_dir: dir, path: rel },
      },
    );
  }
  return c.value;
}
