import { isDwmError } from "@dwm/core";
import { viewEligibility } from "@dwm/executor";
import type { Attempt, JournalEvent, Packet, PacketState, RunState } from "@dwm/schemas";
import {
  assertIntegrationKeeps,
  conflictDrafts,
  integrationHead,
  type MergeResult,
  mergeConflictGate,
  mergeConflictGateId,
  mergeIntoIntegration,
} from "../integration.js";
import { type FolderWork, mergeFolderBatch } from "../integration-batch.js";
import type { RunContext } from "./context.js";
import type { EventObserver } from "./run-log.js";
import { readAttemptFile } from "./store.js";

/**
 * Whether a packet's work is to be merged now: it completed with a commit that is not merged
 * yet, and if its merge conflicted before, the operator approved the conflict gate (after
 * merging by hand; a rejection sends the packet back instead).
 */
export function readyToMerge(p: PacketState | undefined, state: RunState): p is PacketState {
  if (p?.state !== "completed" || p.commit === null || p.merged_commit !== null) return false;
  return p.conflict_gate === null || state.gates[p.conflict_gate]?.state === "approved";
}

/** The id of the next conflict gate of a packet's attempt: `-<k>` when an earlier one exists. */
export function nextConflictGateId(state: RunState, packetId: string, attempt: number): string {
  let k = 1;
  while (state.gates[mergeConflictGateId(packetId, attempt, k)]) k++;
  return mergeConflictGateId(packetId, attempt, k);
}

/** Merged packets (other than `except`) whose recorded changes touch any of `paths`. */
export function mergedPacketsTouching(
  dir: string,
  state: RunState,
  paths: readonly string[],
  except: string,
): string[] {
  const want = new Set(paths);
  const out: string[] = [];
  for (const [id, p] of Object.entries(state.packets)) {
    if (!p || id === except || p.merged_commit === null || p.attempts === 0) continue;
    try {
      if (readAttemptFile(dir, id, p.attempts).changed_files.some((c) => want.has(c.path))) out.push(id);
    } catch {
      // completed by a gate without evidence of its own
    }
  }
  return out;
}

/**
 * The integrator: the one place completed work is merged, into `dwm/<run>/integration`, in run
 * order. A merge journals integration.merged; a conflict changes nothing in git and opens a
 * merge-conflict gate naming the files and the merged packets that touched them. It holds the
 * branch head new attempts start from, and reads it again when someone else may have moved it:
 * moved on (an outside commit on top) is fine; moved back or elsewhere, so that work this run
 * merged is gone, stops the run (ERR_DISPATCH_INTEGRATION_REWOUND, exit 3) rather than merge on
 * top of the loss. The executor leaves DWM's ref namespace to this check.
 */
export class Integrator implements EventObserver {
  // Where new attempts start: the integration branch head (null until the first merge).
  private head: string | null = null;
  // The head is read from git at start and moved by this runner; an operator's decision (a hand
  // merge approved at a conflict gate) may have moved the branch, so it is read again after one.
  private headStale = true;
  // Packets completed since the last pass (all of them when a decision or expansion may matter).
  private readonly completed = new Set<string>();
  private all = true;
  // Where packets that run in a shared view start (baseFor); null: the next one takes the head.
  private viewBase: string | null = null;
  // Packets merged since viewBase was taken: a packet that depends on one of them needs a newer base.
  private readonly mergedSinceViewBase = new Set<string>();
  // Output-folder work completed and held back for the next batch merge (integrateCompleted).
  private readonly deferred = new Set<string>();

  constructor(private readonly ctx: RunContext) {}

  noteEvent(e: JournalEvent): void {
    if (e.type === "packet.completed") this.completed.add(e.data.packet_id);
    // A decision may let a conflicted packet's hand merge in; an expansion or recompile changes the packets.
    else if (e.type === "gate.approved" || e.type === "fanout.expanded" || e.type === "run.recompiled")
      this.all = true;
    if (e.type === "gate.approved" || e.type === "gate.rejected") this.headStale = true;
  }

  /** Read the branch head (null: nothing merged yet); it must still hold every merge the journal recorded. */
  async start(): Promise<void> {
    this.head = await this.readHead();
  }

  /** The branch head as git has it now, checked to hold every commit this run merged. */
  private async readHead(): Promise<string | null> {
    const { setup, log } = this.ctx;
    const head = await integrationHead(setup.gitPorts, setup.runId);
    const merged = Object.values(log.state.packets)
      .map((p) => p?.merged_commit ?? null)
      .filter((c): c is string => c !== null);
    await assertIntegrationKeeps(setup.gitPorts, setup.runId, head, merged);
    this.headStale = false;
    // Read again after a decision or a moved branch: the next view base is the head as it is.
    this.viewBase = null;
    return head;
  }

  /** The commit the next attempt starts from: the integration head, else the run's base commit. */
  get base(): string {
    return this.head ?? this.ctx.setup.baseCommit;
  }

  /**
   * The commit `packet`'s attempt starts from. A packet that runs in a shared view (its writes
   * confined to its output folder, a sandbox, views on) starts where the view packets before it
   * started, so one view serves a whole fan-out; it gets the head instead when one of its
   * dependencies merged since (it must see their work, and through them everything they built
   * on). Other merges since are of packets it does not depend on: whether it saw them was a
   * matter of timing in a checkout too.
   */
  baseFor(packet: Packet): string {
    if (this.ctx.setup.views === undefined || !viewEligibility(packet).eligible) return this.base;
    if (this.viewBase === null || packet.depends_on.some((d) => this.mergedSinceViewBase.has(d))) {
      this.viewBase = this.base;
      this.mergedSinceViewBase.clear();
    }
    return this.viewBase;
  }

  /**
   * Merge the packets completed since the last pass (every packet, in run order, when more than
   * one may be): those whose commits change only their own output folder together in one merge
   * (mergeFolderBatch), the others (and any the batch leaves) one by one.
   */
  async integrateCompleted(inFlight = 0): Promise<void> {
    const { log } = this.ctx;
    // Work held back by the last pass is looked at again, with what completed since.
    const since = new Set([...this.completed, ...this.deferred]);
    const ids = this.all || since.size > 1 ? Object.keys(log.state.packets) : [...since];
    this.all = false;
    this.completed.clear();
    const ready = ids.filter((id) => readyToMerge(log.state.packets[id], log.state));
    const work = this.folderWork(ready);
    this.deferred.clear();
    // While attempts are in flight, output-folder work waits (up to as many as are in flight) to be
    // merged with the next ones: nothing else needs it yet (the scheduler holds a dependent
    // until its dependencies are merged), and one merge of many costs what one of one does.
    if (inFlight > 0 && work.length < Math.max(2, inFlight)) {
      for (const w of work) this.deferred.add(w.packetId);
    }
    const batched = new Set(this.deferred.size > 0 ? [] : await this.integrateBatch(work));
    for (const id of this.deferred) batched.add(id);
    for (const id of ready) {
      const p = log.state.packets[id];
      if (!batched.has(id) && readyToMerge(p, log.state)) await this.integrate(id, p);
    }
  }

  /** The ready packets whose commit changes only their output folder, on the base their attempt started from. */
  private folderWork(ready: readonly string[]): FolderWork[] {
    const { setup, log } = this.ctx;
    const out: FolderWork[] = [];
    // Only runs that share views make output-folder commits on a common base worth batching.
    if (setup.views === undefined) return out;
    for (const id of ready) {
      const p = log.state.packets[id];
      const packet = setup.fan.packet(id);
      if (!p || p.commit === null || p.conflict_gate !== null || !packet || !viewEligibility(packet).eligible)
        continue;
      let a: Attempt;
      try {
        a = readAttemptFile(setup.dir, id, p.attempts);
      } catch {
        continue;
      }
      const own = a.changed_files.length > 0 && a.changed_files.every((c) => c.path.startsWith(`${id}/`));
      if (own && a.head_commit === p.commit && a.base_commit !== p.commit) {
        out.push({ packetId: id, attempt: p.attempts, folder: id, base: a.base_commit, commit: p.commit });
      }
    }
    return out;
  }

  /** Merge two or more output-folder packets in one pass; returns the ids merged (journaled each as before). */
  private async integrateBatch(work: readonly FolderWork[]): Promise<string[]> {
    const { setup, log } = this.ctx;
    if (work.length < 2) return [];
    if (this.headStale) this.head = await this.readHead();
    if (this.head === null) return [];
    let r: Awaited<ReturnType<typeof mergeFolderBatch>>;
    try {
      r = await mergeFolderBatch(setup.gitPorts, { runId: setup.runId, head: this.head, work });
    } catch (e) {
      if (!isDwmError(e) || e.code !== "ERR_DISPATCH_INTEGRATION_MOVED") throw e;
      // Someone moved the branch: read it again; the packets merge one by one on top of it.
      this.head = await this.readHead();
      return [];
    }
    if (r.commit === null) return [];
    this.head = r.commit;
    for (const id of r.merged) if (this.viewBase !== null) this.mergedSinceViewBase.add(id);
    log.append(
      r.merged.map((id) => ({
        type: "integration.merged",
        data: { packet_id: id, commit: r.commit as string },
      })),
    );
    return r.merged;
  }

  private async integrate(id: string, p: PacketState): Promise<void> {
    const { setup, log } = this.ctx;
    if (this.headStale || p.conflict_gate !== null) this.head = await this.readHead();
    const r = await this.mergeOnTop(id, p);
    if (r.kind === "merged") {
      this.head = r.commit;
      if (this.viewBase !== null) this.mergedSinceViewBase.add(id);
      log.append([{ type: "integration.merged", data: { packet_id: id, commit: r.commit } }]);
      return;
    }
    const gate = mergeConflictGate({
      gateId: nextConflictGateId(log.state, id, p.attempts),
      runId: setup.runId,
      packetId: id,
      attempt: p.attempts,
      paths: r.paths,
      against: mergedPacketsTouching(setup.dir, log.state, r.paths, id),
    });
    log.append(conflictDrafts(gate, id, r.paths));
  }

  /** Merge onto the head this runner holds; when someone else moved the branch (the compare-and-swap refused), onto where it is. */
  private async mergeOnTop(id: string, p: PacketState): Promise<MergeResult> {
    const { setup } = this.ctx;
    const merge = (head: string | null) =>
      mergeIntoIntegration(setup.gitPorts, {
        runId: setup.runId,
        base: setup.baseCommit,
        packetId: id,
        attempt: p.attempts,
        commit: p.commit as string,
        head,
      });
    try {
      return await merge(this.head);
    } catch (e) {
      if (!isDwmError(e) || e.code !== "ERR_DISPATCH_INTEGRATION_MOVED") throw e;
      this.head = await this.readHead();
      return await merge(this.head);
    }
  }
}
