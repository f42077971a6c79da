import type { ProgressEvent } from "@dwm/dispatcher";
import type { JournalEvent, RunState } from "@dwm/schemas";
import type { CommandContext } from "../command.js";

/** How `dwm run` shows progress: NDJSON events, one line per event, lines under a live block (TTY), or nothing. */
export type ProgressMode = "ndjson" | "lines" | "tty" | "none";

/** A repeating timer, as a port: the live block redraws on it; tests drive it by hand. */
export interface Ticker {
  /** Call `fn` every `ms` until the returned function is called. */
  every(ms: number, fn: () => void): () => void;
}

/** The process's timers (unref'd: a live view never keeps the process alive). */
export const realTicker: Ticker = {
  every(ms, fn) {
    const t = setInterval(fn, ms);
    t.unref();
    return () => clearInterval(t);
  },
};

/** The progress view of one `dwm run`. */
export interface ProgressView {
  onProgress: (p: ProgressEvent) => void;
  /** Journal events shown so far (one line each in the line and TTY modes). */
  events: () => number;
  /** Stop redrawing and erase the live block. */
  close: () => void;
}

/** The live block redraws at least this often, so elapsed times move while workers run. */
export const REDRAW_MS = 1000;
/** Running packets listed in the live block; the rest are counted. */
const SHOWN_RUNNING = 8;

/** What an event line adds after the packet or gate it names, by event type. */
const EVENT_DETAIL = new Map<string, (d: Record<string, unknown>) => string>([
  ["packet.reviewed", (d) => ` ${d.verdict}`],
  ["attempt.recorded", (d) => ` ${d.outcome}`],
  ["run.stopped", (d) => ` ${d.reason}${d.detail ? `: ${d.detail}` : ""}`],
  ["packet.dispatched", (d) => (d.backend ? ` (${d.backend})` : "")],
  ["integration.merged", (d) => ` ${String(d.commit).slice(0, 12)}`],
  ["integration.conflict", (d) => ` in ${(d.paths as string[]).join(", ")}`],
]);

/** One event as a progress line: its type, what it is about, and the detail of its type. */
export function eventLine(e: JournalEvent): string {
  const d = e.data as Record<string, unknown>;
  const who = [
    d.packet_id ?? d.gate_id ?? d.artifact,
    d.attempt === undefined ? null : `attempt ${d.attempt}`,
  ]
    .filter((x) => x !== null && x !== undefined)
    .join(" ");
  const extra = EVENT_DETAIL.get(e.type)?.(d) ?? "";
  return `${e.type}${who ? ` ${who}` : ""}${extra}`;
}

/** The packet state each event moves its packet to, as the live view counts it. */
const MOVES: Record<string, string> = {
  "packet.dispatched": "running",
  "attempt.recorded": "reviewing",
  "packet.reviewed": "reviewed",
  "packet.completed": "completed",
  "packet.failed": "failed",
  "packet.abandoned": "abandoned",
  "repair.scheduled": "repairing",
  "infra.retry-scheduled": "pending",
  "packet.reopened": "pending",
};

/** mm:ss (h:mm:ss past an hour). */
export function clockTime(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const mm = `${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mm}` : mm;
}

/**
 * The packets of a run as the live view sees them: state by packet, when each running one
 * was dispatched, and how long finished ones took (for the estimate of the time left).
 */
export class PacketTracker {
  readonly states = new Map<string, string>();
  readonly running = new Map<string, number>();
  readonly durations: number[] = [];
  attempts = 0;
  /** Most packets seen running at once: the parallelism the estimate divides by. */
  widest = 1;

  constructor(initial: RunState | null) {
    for (const [id, p] of Object.entries(initial?.packets ?? {})) if (p) this.states.set(id, p.state);
  }

  /** Follow one event; `now` is the monotonic time it arrived. */
  note(e: JournalEvent, now: number): void {
    const d = e.data as { packet_id?: string; packets?: unknown[]; verdict?: string };
    if (e.type === "run.opened") for (const id of (d.packets ?? []) as string[]) this.set(id, "pending");
    if (e.type === "fanout.expanded") {
      for (const item of (d.packets ?? []) as { packet_id: string }[]) this.set(item.packet_id, "pending");
    }
    const id = d.packet_id;
    if (id === undefined) return;
    if (e.type === "packet.dispatched") {
      this.attempts++;
      if (!this.running.has(id)) this.running.set(id, now);
      this.widest = Math.max(this.widest, this.running.size);
    }
    if (e.type === "packet.reviewed") {
      // An attempt's time: dispatch to review (what the packets left will take again).
      const started = this.running.get(id);
      if (started !== undefined) this.durations.push(now - started);
    }
    const s = e.type === "packet.reviewed" && d.verdict === "needs-human" ? "needs-human" : MOVES[e.type];
    if (s) this.set(id, s);
  }

  private set(id: string, s: string): void {
    this.states.set(id, s);
    // A packet runs from its dispatch until its review (then it completes, is repaired, or waits).
    if (s !== "running" && s !== "reviewing") this.running.delete(id);
  }

  /** Packets that count towards done/total (a fan-out template stands for its items). */
  total(): number {
    return [...this.states.values()].filter((s) => s !== "expanded").length;
  }

  count(state: string): number {
    return [...this.states.values()].filter((s) => s === state).length;
  }

  /** Milliseconds left, from the mean time of reviewed attempts; null before any was reviewed. */
  eta(): number | null {
    if (this.durations.length === 0) return null;
    const mean = this.durations.reduce((a, b) => a + b, 0) / this.durations.length;
    const left = this.total() - this.count("completed") - this.count("failed");
    return (mean * Math.max(0, left)) / this.widest;
  }
}

/** The live block: one status line, then the running packets with their own elapsed times. */
export function liveBlock(t: PacketTracker, elapsedMs: number, now: number, columns: number): string[] {
  const eta = t.eta();
  const failed = t.count("failed");
  const head = [
    `[${clockTime(elapsedMs)}] ${t.count("completed")}/${t.total()} done`,
    `${t.running.size} running`,
    ...(failed ? [`${failed} failed`] : []),
    `attempts ${t.attempts}`,
    `ETA ${eta === null ? "-" : `~${clockTime(eta)}`}`,
  ].join(" · ");
  const running = [...t.running].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
  const lines = running.slice(0, SHOWN_RUNNING).map(([id, since]) => `  ${id} ${clockTime(now - since)}`);
  if (running.length > SHOWN_RUNNING) lines.push(`  … and ${running.length - SHOWN_RUNNING} more`);
  // A line wider than the terminal wraps and the block could no longer be erased line by line.
  return [head, ...lines].map((l) => (l.length >= columns ? `${l.slice(0, Math.max(1, columns - 2))}…` : l));
}

/**
 * The progress view of `dwm run`. TTY: event lines scroll above a live block that redraws on
 * every event and every REDRAW_MS, and is erased on close. Lines: one line per event.
 * NDJSON: the events as JSON lines. None: nothing (but events are still counted).
 */
export function createProgress(
  ctx: CommandContext,
  mode: ProgressMode,
  initial: RunState | null,
  ticker: Ticker = realTicker,
): ProgressView {
  const t0 = ctx.clock.monotonicMs();
  const tracker = new PacketTracker(initial);
  const columns = Math.max(20, ctx.columns ?? 80);
  let shown = 0;
  let drawn = 0;
  const elapsed = () => ctx.clock.monotonicMs() - t0;
  // Up over the block, clear to the end of the screen: what is emitted next starts where it began.
  const erase = () => (drawn > 0 ? `\x1b[${drawn}A\x1b[0J` : "");
  const draw = (above: string | null) => {
    const block = liveBlock(tracker, elapsed(), ctx.clock.monotonicMs(), columns);
    const lines = above === null ? block : [above, ...block];
    ctx.emit(`${erase()}${lines[0]}`);
    for (const l of lines.slice(1)) ctx.emit(l);
    drawn = block.length;
  };
  const stop = mode === "tty" ? ticker.every(REDRAW_MS, () => draw(null)) : () => {};
  const line = (text: string) => (mode === "tty" ? draw(text) : ctx.emit(text));
  return {
    onProgress(p) {
      if (p.kind === "note") {
        if (mode === "ndjson") ctx.emit(JSON.stringify({ kind: "note", message: p.message }));
        else if (mode !== "none") line(`[${clockTime(elapsed())}] ${p.message}`);
        return;
      }
      const e = p.event;
      tracker.note(e, ctx.clock.monotonicMs());
      shown++;
      if (mode === "ndjson") ctx.emit(JSON.stringify(e));
      else if (mode === "lines") ctx.emit(`[${clockTime(elapsed())}] #${e.seq} ${eventLine(e)}`);
      else if (mode === "tty") draw(`[${clockTime(elapsed())}] #${e.seq} ${eventLine(e)}`);
    },
    events: () => shown,
    close() {
      stop();
      // Erase the block; the trailing newline of emit lands back on the line the block began on.
      if (drawn > 0) ctx.emit(`\x1b[${drawn}A\x1b[0J\x1b[1A`);
      drawn = 0;
    },
  };
}
