import { canonicalJson, type Digest, digestBytes } from "@dwm/core";
import type { JournalEvent, VerifyProblem } from "@dwm/schemas";
import { validateSchema } from "@dwm/schemas";

/** Every event type the journal-event schema knows. */
export type EventType = JournalEvent["type"];
/** The `data` of one event type. */
export type EventData<T extends EventType> = Extract<JournalEvent, { type: T }>["data"];
/** What stages return and only the journal's `append` turns into events. */
export type EventDraft = { [T in EventType]: { type: T; data: EventData<T> } }[EventType];
/** A journal event of one type. */
export type EventOf<T extends EventType> = Extract<JournalEvent, { type: T }>;

export const JOURNAL_FILE = "journal.jsonl";

/**
 * The fields an event's digest covers, in canonical key order: the canonicaliser then writes a
 * body parsed from a journal line as it is, without rebuilding it.
 */
export function eventBody(e: Pick<JournalEvent, "seq" | "prev" | "type" | "at" | "data">) {
  return { at: e.at, data: e.data, prev: e.prev, seq: e.seq, type: e.type };
}

/**
 * Canonical JSON of the body and the event's digest. The line of an event is the
 * canonical JSON of the whole event; `digest` sorts between `data` and `prev`, so the
 * line is the body's canonical JSON with `"digest":…` spliced in before the top-level
 * `"prev"` (the last one: only prev's hex, seq and a known type follow it).
 */
export function encodeEvent(body: ReturnType<typeof eventBody>): { digest: Digest; line: string } {
  const c = canonicalJson(body);
  const d = digestBytes(c);
  return { digest: d, line: spliceDigest(c, d) };
}

/** The line of an event whose body's canonical JSON is `bodyJson` and whose recorded digest is `d`. */
export function spliceDigest(bodyJson: string, d: string): string {
  const i = bodyJson.lastIndexOf(',"prev":');
  return `${bodyJson.slice(0, i)},"digest":${JSON.stringify(d)}${bodyJson.slice(i)}`;
}

/** `line === spliceDigest(bodyJson, d)`, compared in place (no third copy of every line). */
function isSpliced(line: string, bodyJson: string, d: string): boolean {
  const i = bodyJson.lastIndexOf(',"prev":');
  const field = `,"digest":${JSON.stringify(d)}`;
  return (
    i >= 0 &&
    line.length === bodyJson.length + field.length &&
    line.startsWith(field, i) &&
    line.startsWith(bodyJson.slice(0, i)) &&
    line.endsWith(bodyJson.slice(i))
  );
}

/** An incomplete last line: bytes after the last newline. */
export interface TornTail {
  /** Byte offset where the incomplete line starts (= size of the complete part). */
  offset: number;
  bytes: number;
  digest: Digest;
}

export interface JournalScan {
  /** Events of complete lines that parsed and matched the schema, in file order. */
  events: JournalEvent[];
  /** Complete lines read. */
  lines: number;
  problems: VerifyProblem[];
  torn: TornTail | null;
}

function problem(code: string, message: string, extra: Partial<VerifyProblem> = {}): VerifyProblem {
  return { code, file: JOURNAL_FILE, message, repairable: false, ...extra };
}

/** The bytes after the last newline, if any: a line a crash left incomplete. */
function tornTail(b: Buffer): TornTail | null {
  const end = b.lastIndexOf(0x0a) + 1;
  return end < b.length ? { offset: end, bytes: b.length - end, digest: digestBytes(b.subarray(end)) } : null;
}

function tornProblem(torn: TornTail): VerifyProblem {
  return problem(
    "ERR_VERIFY_TORN_TAIL",
    `the journal ends in an incomplete line of ${torn.bytes} bytes at byte ${torn.offset}`,
    {
      repairable: true,
      actual: torn.digest,
    },
  );
}

/** One complete line, read: its event (when it parsed and matched the schema), its problems, the digest the next line must link to. */
interface ScannedLine {
  event: JournalEvent | null;
  problems: VerifyProblem[];
  /** What the next event's `prev` must be; null when this line gives nothing to check it against. */
  next: string | null;
}

/** JSON and schema of line `seq`: the event, or the problem and what the next line may still link to. */
function parseLine(line: string, seq: number): JournalEvent | Omit<ScannedLine, "event"> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    return {
      problems: [
        problem("ERR_VERIFY_EVENT_PARSE", `journal line ${seq} is not JSON: ${(e as Error).message}`, {
          seq,
        }),
      ],
      next: null,
    };
  }
  const v = validateSchema("journal-event", value);
  if (v.ok) return value as JournalEvent;
  const rec = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  const first = v.problems[0];
  return {
    problems: [
      problem(
        "ERR_VERIFY_EVENT_SCHEMA",
        `journal line ${seq} does not match the journal-event schema: ${first ? `${first.pointer || "/"} ${first.message}` : ""}`,
        { seq },
      ),
    ],
    next: typeof rec.digest === "string" ? rec.digest : null,
  };
}

/** Is the line the canonical JSON of its event, and does the event match its digest? */
function encodingProblems(line: string, ev: JournalEvent, seq: number): VerifyProblem[] {
  const out: VerifyProblem[] = [];
  const bodyJson = canonicalJson(eventBody(ev));
  const computed = digestBytes(bodyJson);
  if (!isSpliced(line, bodyJson, ev.digest)) {
    out.push(
      problem(
        "ERR_VERIFY_EVENT_NOT_CANONICAL",
        `journal line ${seq} is not the canonical JSON of its event`,
        {
          seq,
        },
      ),
    );
  }
  if (computed !== ev.digest) {
    out.push(
      problem("ERR_VERIFY_EVENT_DIGEST", `event ${seq} (${ev.type}) does not match its digest`, {
        seq,
        expected: ev.digest,
        actual: computed,
      }),
    );
  }
  return out;
}

/**
 * Is event `ev` on line `seq` where the chain says it belongs? Its seq is its line
 * number; the first event is run.opened linking to the run.json digest it records;
 * every later one links to the digest of the line before (`expectPrev`; null: that
 * line was unreadable, nothing to check against).
 */
export function placeProblems(ev: JournalEvent, seq: number, expectPrev: string | null): VerifyProblem[] {
  const out: VerifyProblem[] = [];
  if (ev.seq !== seq) {
    out.push(
      problem("ERR_VERIFY_SEQ", `journal line ${seq} carries seq ${ev.seq}`, {
        seq,
        expected: String(seq),
        actual: String(ev.seq),
      }),
    );
  }
  if (seq === 1) {
    if (ev.type !== "run.opened") {
      out.push(problem("ERR_VERIFY_CHAIN", `the first event is ${ev.type}, not run.opened`, { seq }));
    } else if (ev.prev !== ev.data.run_digest) {
      out.push(
        problem("ERR_VERIFY_CHAIN", "the first event does not link to the run.json digest it records", {
          seq,
          expected: ev.data.run_digest,
          actual: ev.prev,
        }),
      );
    }
  } else if (expectPrev !== null && ev.prev !== expectPrev) {
    out.push(
      problem("ERR_VERIFY_CHAIN", `event ${seq} does not link to event ${seq - 1}`, {
        seq,
        expected: expectPrev,
        actual: ev.prev,
      }),
    );
  }
  return out;
}

/** Check complete line `seq` of the journal (see scanJournal). */
function scanLine(line: string, seq: number, expectPrev: string | null): ScannedLine {
  const parsed = parseLine(line, seq);
  if ("problems" in parsed) return { event: null, ...parsed };
  const ev = parsed;
  return {
    event: ev,
    problems: [...encodingProblems(line, ev, seq), ...placeProblems(ev, seq, expectPrev)],
    next: ev.digest,
  };
}

/** The events of a prefix verified before: parsed, not checked again. */
function parseTrusted(text: string): JournalEvent[] {
  const out: JournalEvent[] = [];
  for (let at = 0; at < text.length; ) {
    const nl = text.indexOf("\n", at);
    out.push(JSON.parse(text.slice(at, nl)) as JournalEvent);
    at = nl + 1;
  }
  return out;
}

/**
 * Check every complete line of a journal: JSON, schema, canonical form, digest,
 * sequence and chain. The first event must be run.opened and link (`prev`) to the
 * run.json digest it records. Pure; reports problems instead of throwing.
 * `trustedBytes` (a line boundary): a prefix the caller has verified before, byte for byte
 * (the store check's cache); its lines are only parsed.
 */
export function scanJournal(buf: Uint8Array, trustedBytes = 0): JournalScan {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const torn = tornTail(b);
  const problems: VerifyProblem[] = torn ? [tornProblem(torn)] : [];
  const text = b.toString("utf8", 0, torn ? torn.offset : b.length);
  const trustedText = trustedBytes > 0 ? b.toString("utf8", 0, trustedBytes) : "";
  const events = parseTrusted(trustedText);
  let lines = events.length;
  let expectPrev: string | null = events.at(-1)?.digest ?? null;
  for (let pos = trustedText.length; pos < text.length; ) {
    const nl = text.indexOf("\n", pos);
    const r = scanLine(text.slice(pos, nl), ++lines, expectPrev);
    pos = nl + 1;
    problems.push(...r.problems);
    if (r.event) events.push(r.event);
    expectPrev = r.next;
  }
  return { events, lines, problems, torn };
}
