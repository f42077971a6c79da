import { type EventDraft, type Journal, openJournal, readJournal } from "@dwm/runtime";
import { computeFrontier, type FrontierSummary, FrontierTracker } from "@dwm/scheduler";
import type { Frontier, JournalEvent, RunOutcome, RunState } from "@dwm/schemas";
import type { Budget } from "./budget.js";
import type { RunSetup } from "./open-run.js";
import type { StopControl } from "./stop.js";
import type { ProgressEvent } from "./types.js";

/** A part of the loop that keeps track of what is journaled (told of every appended event, in order). */
export interface EventObserver {
  noteEvent(event: JournalEvent): void;
}

/** Events openJournal itself appends before the loop runs (a new journal, a repaired tail, recovered leftovers). */
const OPENING_EVENTS = new Set(["run.opened", "journal.truncated", "store.recovered"]);

/** The events of a journal the caller has not seen: those openJournal appended (the last one, the lease, and its opening events). */
export function eventsOpenJournalAppended(history: readonly JournalEvent[]): JournalEvent[] {
  let first = history.length - 1;
  while (first > 0 && OPENING_EVENTS.has(history[first - 1]?.type ?? "")) first--;
  return history.slice(Math.max(0, first));
}

/**
 * The run as this runner holds it: the journal (taken with the run lock, whose lease it renews),
 * the state folded from it, and the one way to change it, `append`, which tells the frontier
 * tracker, the progress callback and every observer of each new event. Counts what this
 * runner did for the outcome.
 */
export class RunLog {
  readonly journal: Journal;
  /** What this runner did: the outcome's `this_run` (duration filled in at the end). */
  readonly activity: RunOutcome["this_run"] = {
    events: 0,
    attempts: 0,
    abandoned: [],
    approvals: [],
    tokens: 0,
    duration_ms: 0,
  };
  // The frontier after each settled attempt, kept event by event (computeFrontier looks at every packet).
  private readonly tracker: FrontierTracker;
  private readonly observers: EventObserver[] = [];
  private readonly progress: (p: ProgressEvent) => void;
  private looping = false;
  private renewTimer: NodeJS.Timeout | null = null;

  /** Opens the journal: a second runner on the run gets ERR_RUN_LOCKED. */
  constructor(
    private readonly setup: RunSetup,
    private readonly budget: Budget,
  ) {
    const { options, ports } = setup;
    this.journal = openJournal(setup.dir, {
      clock: ports.clock,
      ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
      ...(options.pid !== undefined ? { pid: options.pid } : {}),
      ...(options.host !== undefined ? { host: options.host } : {}),
      ...(ports.runInstance ? { instance: ports.runInstance() } : {}),
      ...(setup.branch !== null ? { branch: setup.branch } : {}),
    });
    this.tracker = new FrontierTracker({
      check: ports.env?.DWM_CHECK_FRONTIER === "1" || process.env.DWM_CHECK_FRONTIER === "1",
    });
    this.progress = ports.onProgress ?? (() => {});
  }

  /** The state folded from every event so far. */
  get state(): RunState {
    return this.journal.state;
  }

  /** Renew the lease every third of it; a renewal that fails stops the run. */
  keepLease(stop: StopControl): void {
    const leaseMs = this.setup.options.leaseMs ?? 30_000;
    this.renewTimer = setInterval(
      () => {
        try {
          this.journal.renew();
        } catch (e) {
          stop.leaseLost(e);
        }
      },
      Math.max(50, Math.floor(leaseMs / 3)),
    );
    this.renewTimer.unref();
  }

  observe(...observers: EventObserver[]): void {
    this.observers.push(...observers);
  }

  /** Append events (all or none), then report each to the tracker, the progress callback and the observers. */
  append(drafts: readonly EventDraft[]): JournalEvent[] {
    const evs = this.journal.appendAll(drafts);
    this.activity.events += evs.length;
    this.tracker.note(evs);
    for (const e of evs) {
      const log = this;
      this.progress({
        kind: "event",
        event: e,
        get frontier() {
          return log.looping ? log.fullFrontier() : null;
        },
      });
      for (const o of this.observers) o.noteEvent(e);
    }
    return evs;
  }

  /** A progress note: something the caller should know that is not an event. */
  note(message: string): void {
    this.progress({ kind: "note", message });
  }

  /** The whole journal as it was opened; the events openJournal appended are reported as progress. */
  replayHistory(): JournalEvent[] {
    const { events } = readJournal(this.setup.dir);
    for (const e of eventsOpenJournalAppended(events))
      this.progress({ kind: "event", event: e, frontier: null });
    return events;
  }

  /** From now on, progress events carry the frontier. */
  startLoop(): void {
    this.looping = true;
  }

  /** The frontier now, kept event by event (FrontierTracker). */
  frontier(): FrontierSummary {
    return this.tracker.frontier(this.state, this.setup.fan.view, this.budget.policy());
  }

  /** The frontier now, computed from every packet (computeFrontier). */
  fullFrontier(): Frontier {
    return computeFrontier(this.state, this.setup.fan.view, this.budget.policy());
  }

  /** Stop renewing the lease. */
  stopLease(): void {
    if (this.renewTimer !== null) clearInterval(this.renewTimer);
    this.renewTimer = null;
  }

  /** Save state.json and release the lock; what failed after the last append is a note, not a failure. */
  close(): void {
    this.stopLease();
    this.journal.close();
    for (const w of this.journal.warnings) this.note(`warning: ${w}`);
  }
}
