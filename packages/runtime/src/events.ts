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

/** The fields an event's digest covers. */
export function eventBody(e: Pick<JournalEvent, "seq" | "prev" | "type" | "at" | "data">) {
  return { seq: e.seq, prev: e.prev, type: e.type, at: e.at, data: e.data };
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

/**
 * Check every complete line of a journal: JSON, schema, canonical form, digest,
 * sequence and chain. The first event must be run.opened and link (`prev`) to the
 * run.json digest it records. Pure; reports problems instead of throwing.
 */
export function scanJournal(buf: Uint8Array): JournalScan {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const end = b.lastIndexOf(0x0a) + 1;
  const torn: TornTail | null =
    end < b.length ? { offset: end, bytes: b.length - end, digest: digestBytes(b.subarray(end)) } : null;
  const problems: VerifyProblem[] = [];
  const events: JournalEvent[] = [];
  if (torn) {
    problems.push(
      problem(
        "ERR_VERIFY_TORN_TAIL",
        `the journal ends in an incomplete line of ${torn.bytes} bytes at byte ${torn.offset}`,
        {
          repairable: true,
          actual: torn.digest,
        },
      ),
    );
  }
  const text = b.toString("utf8", 0, end);
  let lines = 0;
  let expectPrev: string | null = null;
  let pos = 0;
  while (pos < text.length) {
    const nl = text.indexOf("\n", pos);
    const line = text.slice(pos, nl);
    pos = nl + 1;
    lines++;
    const seq = lines;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      problems.push(
        problem("ERR_VERIFY_EVENT_PARSE", `journal line ${seq} is not JSON: ${(e as Error).message}`, {
          seq,
        }),
      );
      expectPrev = null;
      continue;
    }
    const v = validateSchema("journal-event", value);
    const rec = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
    if (!v.ok) {
      const first = v.problems[0];
      problems.push(
        problem(
          "ERR_VERIFY_EVENT_SCHEMA",
          `journal line ${seq} does not match the journal-event schema: ${first ? `${first.pointer || "/"} ${first.message}` : ""}`,
          { seq },
        ),
      );
      expectPrev = typeof rec.digest === "string" ? rec.digest : null;
      continue;
    }
    const ev = value as JournalEvent;
    const bodyJson = canonicalJson(eventBody(ev));
    const computed = digestBytes(bodyJson);
    if (line !== spliceDigest(bodyJson, ev.digest)) {
      problems.push(
        problem(
          "ERR_VERIFY_EVENT_NOT_CANONICAL",
          `journal line ${seq} is not the canonical JSON of its event`,
          { seq },
        ),
      );
    }
    if (computed !== ev.digest) {
      problems.push(
        problem("ERR_VERIFY_EVENT_DIGEST", `event ${seq} (${ev.type}) does not match its digest`, {
          seq,
          expected: ev.digest,
          actual: computed,
        }),
      );
    }
    if (ev.seq !== seq) {
      problems.push(
        problem("ERR_VERIFY_SEQ", `journal line ${seq} carries seq ${ev.seq}`, {
          seq,
          expected: String(seq),
          actual: String(ev.seq),
        }),
      );
    }
    if (seq === 1) {
      if (ev.type !== "run.opened") {
        problems.push(problem("ERR_VERIFY_CHAIN", `the first event is ${ev.type}, not run.opened`, { seq }));
      } else if (ev.prev !== ev.data.run_digest) {
        problems.push(
          problem("ERR_VERIFY_CHAIN", "the first event does not link to the run.json digest it records", {
            seq,
            expected: ev.data.run_digest,
            actual: ev.prev,
          }),
        );
      }
    } else if (expectPrev !== null && ev.prev !== expectPrev) {
      problems.push(
        problem("ERR_VERIFY_CHAIN", `event ${seq} does not link to event ${seq - 1}`, {
          seq,
          expected: expectPrev,
          actual: ev.prev,
        }),
      );
    }
    expectPrev = ev.digest;
    events.push(ev);
  }
  return { events, lines, problems, torn };
}
