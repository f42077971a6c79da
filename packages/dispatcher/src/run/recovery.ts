import { digest, digestBytes } from "@dwm/core";
import { removeDeadAttemptSpaces } from "@dwm/executor";
import { type EventDraft, readJournal, restoreRewrittenHandoffs } from "@dwm/runtime";
import type { ErrorInfo, PacketState, RunState } from "@dwm/schemas";
import { type AttemptQueue, attemptJobId, type InFlightAttempt } from "../queue.js";
import type { RunContext } from "./context.js";
import type { Recorder } from "./recorder.js";
import { readRecordedAttempt } from "./store.js";

/** What resuming does with a packet a dead runner left. */
export type RecoveryAction =
  /** Nothing to recover. */
  | { kind: "none" }
  /** In flight in a queue that outlived its coordinator: kept, its result recorded when it comes. */
  | { kind: "keep" }
  /** Dispatched, and nothing runs it any more: abandoned, and dispatched again as the next attempt. */
  | { kind: "abandon"; attempt: number; reason: string }
  /** Its attempt was recorded but never reviewed: reviewed now. */
  | { kind: "review"; attempt: number }
  /** An earlier runner stopped on an infrastructure failure: running again is the operator's retry. */
  | { kind: "retry"; draft: EventDraft };

/**
 * Decide what resuming does with one packet (`adopted`: job ids the queue still holds; `refused`:
 * jobs the queue held under an attempt's id that were not the journal's attempt).
 */
export function recoveryAction(
  runId: string,
  id: string,
  p: PacketState,
  adopted: ReadonlySet<string>,
  refused: ReadonlyMap<string, ErrorInfo> = new Map(),
): RecoveryAction {
  if (p.state === "dispatched") {
    const jobId = attemptJobId(runId, id, p.attempts);
    if (adopted.has(jobId)) return { kind: "keep" };
    const foreign = refused.get(jobId);
    return {
      kind: "abandon",
      attempt: p.attempts,
      reason: `attempt ${p.attempts} was in flight when its runner stopped${foreign ? `; the queue's job for it was refused: ${foreign.code}: ${foreign.message}` : ""}`,
    };
  }
  if (p.state === "attempted") return { kind: "review", attempt: p.attempts };
  if (p.state === "reviewed" && p.last_verdict === "infra-failed") {
    const reason = `retried by a new runner after ${p.last_outcome ?? "an infrastructure failure"}`;
    return {
      kind: "retry",
      draft: {
        type: "infra.retry-scheduled",
        data: { packet_id: id, attempt: p.attempts, retry: p.infra_retries + 1, reason },
      },
    };
  }
  return { kind: "none" };
}

/** Job ids of the attempts the journal has in flight (dispatched, no result recorded). */
export function inFlightJobIds(state: RunState, runId: string): string[] {
  return Object.entries(state.packets)
    .filter(([, p]) => p?.state === "dispatched")
    .map(([id, p]) => attemptJobId(runId, id, p?.attempts ?? 0));
}

/** packet.dispatched's base commit of every attempt, by `<packet>/<n>`. */
function dispatchedBases(dir: string): Map<string, string | null> {
  const bases = new Map<string, string | null>();
  for (const e of readJournal(dir).events)
    if (e.type === "packet.dispatched")
      bases.set(`${e.data.packet_id}/${e.data.attempt}`, e.data.base_commit);
  return bases;
}

/** What the journal and the run store say of one attempt in flight; null when they cannot say it. */
function inFlightAttempt(
  ctx: RunContext,
  id: string,
  n: number,
  base: string | null | undefined,
): InFlightAttempt | null {
  const { setup, log } = ctx;
  const packet = setup.fan.packet(id);
  const packetDigest = log.state.packets[id]?.packet_digest;
  const prompt = setup.fan.prompt(id);
  const binding = setup.bindingOf.get(id) ?? setup.fan.binding(id);
  if (base == null || !packet || prompt === undefined || !binding || !packetDigest) return null;
  if (packetDigest !== setup.fan.digest(id)) return null;
  let inputs: ReturnType<typeof setup.fan.inputs>;
  try {
    inputs = setup.fan.inputs(packet, log.state);
  } catch {
    // A handoff that no longer matches its registration: the attempt is abandoned, and its dispatch says why.
    return null;
  }
  return {
    job_id: attemptJobId(setup.runId, id, n),
    packet_id: id,
    attempt: n,
    packet_digest: packetDigest,
    base_commit: base,
    prompt_digest: digestBytes(prompt),
    binding_digest: digest(binding),
    inputs_digest: digest(inputs),
  };
}

/**
 * The attempts the journal has in flight, as the journal and the run store say they are: the
 * packet digest and base commit packet.dispatched journaled, the run store's prompt, and the
 * binding and handoff inputs a dispatch gets. A queue adopts a job only when it is exactly one of
 * these. An attempt they cannot say (its packet in the run store is not the one journaled, a
 * handoff no longer matches) is left out: abandoned, and dispatched again.
 */
export function inFlightAttempts(ctx: RunContext): InFlightAttempt[] {
  const inFlight = Object.entries(ctx.log.state.packets).filter(([, p]) => p?.state === "dispatched");
  if (inFlight.length === 0) return [];
  const bases = dispatchedBases(ctx.setup.dir);
  return inFlight.flatMap(([id, p]) => {
    const n = p?.attempts ?? 0;
    const a = inFlightAttempt(ctx, id, n, bases.get(`${id}/${n}`));
    return a ? [a] : [];
  });
}

function removeCrashLeftovers(ctx: RunContext): void {
  // Temp files of atomic writes and stale ref locks were removed (and journaled as
  // store.recovered) when this runner opened the journal: runtime's removeLeftovers. The attempt
  // folders (checkouts, prompts) and shared views (`dwm-views-*`) a dead runner of this run left
  // under the worktree root go here.
  const { setup, log } = ctx;
  const removed = removeDeadAttemptSpaces(setup.ports.worktreeRoot, { runId: setup.runId });
  if (removed.length > 0) log.note(`removed attempt folders a crash left: ${removed.join(", ")}`);
}

/**
 * Recovery on resume: crash leftovers go (attempt folders; temp files went when the journal was
 * opened); a registered handoff a killed registration wrote over is put back
 * (restoreRewrittenHandoffs) before its packet is decided again; attempts a dead runner left in
 * flight are kept when the queue still holds them (Redis), else abandoned and run again;
 * recorded attempts are reviewed; an infrastructure stop is retried. Every step is journaled.
 */
export async function recover(ctx: RunContext, queue: AttemptQueue, recorder: Recorder): Promise<void> {
  const { setup, log } = ctx;
  removeCrashLeftovers(ctx);
  const restored = restoreRewrittenHandoffs(setup.dir, log.state);
  if (restored.length > 0)
    log.note(`put back the registered copies a killed registration wrote over: ${restored.join(", ")}`);
  const inFlight = queue.adopt ? inFlightAttempts(ctx) : [];
  const { adopted, refused } =
    inFlight.length > 0 && queue.adopt
      ? await queue.adopt(inFlight)
      : { adopted: new Set<string>(), refused: new Map<string, ErrorInfo>() };
  if (adopted.size > 0)
    log.note(`kept ${adopted.size} job(s) still in the queue: ${[...adopted].join(", ")}`);
  for (const [jobId, e] of refused) log.note(`refused the queue's job for ${jobId}: ${e.code}: ${e.message}`);
  for (const [id, p] of Object.entries(log.state.packets)) {
    if (!p) continue;
    const action = recoveryAction(setup.runId, id, p, adopted, refused);
    if (action.kind === "abandon") {
      recorder.abandon(id, action.attempt, action.reason);
      log.activity.abandoned.push(id);
    } else if (action.kind === "review") {
      await recorder.reviewAndIngest(id, readRecordedAttempt(setup.dir, id, action.attempt));
    } else if (action.kind === "retry") {
      log.append([action.draft]);
    }
  }
}
