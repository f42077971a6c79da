// The decisions of checkRun, as pure functions over what it read: each says whether one
// artifact of a run is stale or missing against the current plan, and why.
import { type Digest, digestBytes } from "@dwm/core";
import type { Invalidator, Packet, RunGateEntry, RunPacketEntry } from "@dwm/schemas";
import { COMPILER_VERSION } from "../version.js";
import type { BuiltRun } from "./build.js";
import { renderPrompt } from "./prompt.js";
import type { RunFileCheck } from "./read.js";
import { MARKER_FILE } from "./store.js";

type Code = Invalidator["code"];
type Kind = Invalidator["artifact"];

/** An invalidator, its fields in the order reports print them. */
export function invalidator(
  code: Code,
  artifact: Kind,
  id: string,
  path: string | null,
  expected: string | null,
  actual: string | null,
  message: string,
): Invalidator {
  return { code, artifact, id, path, expected, actual, message };
}

/** The ownership marker must name the run: missing, malformed or another run's is a missing artifact. */
export function markerStaleness(runId: string, owner: string | null): Invalidator | null {
  if (owner === runId) return null;
  return invalidator(
    "ERR_RESUME_MISSING_ARTIFACT",
    "marker",
    MARKER_FILE,
    MARKER_FILE,
    runId,
    owner,
    owner === null ? `${MARKER_FILE} is missing or malformed` : `${MARKER_FILE} names run ${owner}`,
  );
}

/** A run compiled by another compiler version is stale as a whole. */
export function compilerStaleness(recorded: string, current: string = COMPILER_VERSION): Invalidator | null {
  if (recorded === current) return null;
  return invalidator(
    "ERR_RESUME_STALE_COMPILER",
    "compiler",
    "compiler",
    null,
    recorded,
    current,
    `the run was compiled by compiler ${recorded}; this is ${current}`,
  );
}

/** The plan file rebuilt in memory: its digest (null when canonical JSON cannot represent it) and the build or why it failed. */
export interface PlanRebuild {
  digest: Digest | null;
  built: BuiltRun | null;
  /** Why the plan no longer compiles (`CODE: message`), or null. */
  problem: string | null;
}

/** A plan file that cannot be loaded: missing when it does not exist, else stale with the loader's reason. */
export function planLoadStaleness(
  planPath: string,
  planName: string,
  recorded: string,
  exists: boolean,
  reason: string,
): Invalidator {
  return invalidator(
    exists ? "ERR_RESUME_STALE_PLAN" : "ERR_RESUME_MISSING_ARTIFACT",
    "plan",
    planName,
    planPath,
    recorded,
    null,
    exists ? `the plan ${planPath} cannot be read: ${reason}` : `the plan ${planPath} is missing`,
  );
}

/**
 * A changed plan is stale (and says when it no longer compiles); an unchanged plan
 * that this toolchain refuses means the evaluator or compiler changed.
 */
export function planStaleness(
  planPath: string,
  planName: string,
  recorded: string,
  compilerVersion: string,
  rebuild: PlanRebuild,
): Invalidator | null {
  if (rebuild.digest !== recorded) {
    const why = rebuild.problem ? `, and no longer compiles (${rebuild.problem})` : "";
    return invalidator(
      "ERR_RESUME_STALE_PLAN",
      "plan",
      planName,
      planPath,
      recorded,
      rebuild.digest,
      `the plan has changed since the run was compiled${why}`,
    );
  }
  if (rebuild.problem === null) return null;
  return invalidator(
    "ERR_RESUME_STALE_COMPILER",
    "compiler",
    "compiler",
    null,
    compilerVersion,
    COMPILER_VERSION,
    `the unchanged plan no longer compiles: ${rebuild.problem}`,
  );
}

/**
 * A stored file checked against run.json: unreadable is a missing artifact, read but
 * different is `staleCode`. `id` and `rel` name it in the report.
 */
export function storedFileStaleness<T>(
  check: RunFileCheck<T>,
  artifact: Kind,
  id: string,
  rel: string,
  recorded: string,
  staleCode: Code,
): Invalidator | null {
  if (check.ok) return null;
  if (check.stage === "read")
    return invalidator("ERR_RESUME_MISSING_ARTIFACT", artifact, id, rel, recorded, null, check.message);
  return invalidator(staleCode, artifact, id, rel, recorded, check.digest, check.message);
}

/** A stored packet whose digest the current plan no longer gives (or whose phase it dropped) is stale. */
export function packetStaleness(entry: RunPacketEntry, built: BuiltRun): Invalidator | null {
  const id = entry.packet_id;
  const now = built.packetDigests.get(id) ?? null;
  if (now === entry.digest) return null;
  return invalidator(
    "ERR_RESUME_STALE_PACKET",
    "packet",
    id,
    `packets/${id}.json`,
    entry.digest,
    now,
    now === null ? `the plan no longer has phase ${id}` : `the plan has changed packet ${id}`,
  );
}

/**
 * A prompt whose bytes match run.json must still be its packet's rendering: a prompt
 * forged together with run.json's digest is caught here.
 */
export function promptDrift(
  entry: RunPacketEntry,
  stored: Packet,
  prompt: { text: string; digest: Digest },
): Invalidator | null {
  const rendered = renderPrompt(stored, entry.digest);
  if (rendered === prompt.text) return null;
  const rel = `prompts/${entry.packet_id}.md`;
  return invalidator(
    "ERR_RESUME_STALE_PROMPT",
    "prompt",
    entry.packet_id,
    rel,
    digestBytes(rendered),
    prompt.digest,
    `${rel} does not match its packet`,
  );
}

/** A stored gate whose digest the current plan no longer gives (or no longer needs) is stale. */
export function gateStaleness(entry: RunGateEntry, built: BuiltRun): Invalidator | null {
  const id = entry.gate_id;
  const now = built.gateDigests.get(id) ?? null;
  if (now === entry.digest) return null;
  return invalidator(
    "ERR_RESUME_STALE_GATE",
    "gate",
    id,
    `gates/${id}.json`,
    entry.digest,
    now,
    now === null ? `the plan no longer needs gate ${id}` : `the plan has changed gate ${id}`,
  );
}

/** Packets the current plan has and the run does not, in the plan's run order. */
export function addedPackets(indexed: readonly RunPacketEntry[], built: BuiltRun): Invalidator[] {
  const known = new Set(indexed.map((p) => p.packet_id));
  return built.packets
    .filter((p) => !known.has(p.packet_id))
    .map((p) =>
      invalidator(
        "ERR_RESUME_STALE_PACKET",
        "packet",
        p.packet_id,
        `packets/${p.packet_id}.json`,
        built.packetDigests.get(p.packet_id) as Digest,
        null,
        `the plan adds packet ${p.packet_id}, which the run does not have`,
      ),
    );
}

/** Gates the current plan needs and the run does not have, in the plan's gate order. */
export function addedGates(indexed: readonly RunGateEntry[], built: BuiltRun): Invalidator[] {
  const known = new Set(indexed.map((g) => g.gate_id));
  return built.gates
    .filter((g) => !known.has(g.gate_id))
    .map((g) =>
      invalidator(
        "ERR_RESUME_STALE_GATE",
        "gate",
        g.gate_id,
        `gates/${g.gate_id}.json`,
        built.gateDigests.get(g.gate_id) as Digest,
        null,
        `the plan adds gate ${g.gate_id}, which the run does not have`,
      ),
    );
}
