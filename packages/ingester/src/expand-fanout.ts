import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { canonicalJson, type Digest, digest, digestBytes, fsyncDir, resolveInside } from "@dwm/core";
import type { EventDraft } from "@dwm/runtime";
import type { Gate, Packet, PacketFanoutTemplate, PacketOutput, RunState } from "@dwm/schemas";
import { validateSchema } from "@dwm/schemas";
import { ingesterErrors } from "./errors.js";

/** A template packet and its digest (run.json), in pipeline order. */
export interface FanoutTemplate {
  packet: Packet;
  digest: Digest;
}

/** The source packet's registered handoff the items come from. */
export interface FanoutSource {
  artifact: string;
  digest: Digest;
  bytes: Uint8Array;
}

export interface ExpandFanoutInput {
  state: RunState;
  /** Every per-item phase's template packet, the fan-out's first phase first (pipeline order). */
  templates: readonly FanoutTemplate[];
  source: FanoutSource;
  /** An approved limit gate (fanoutLimitGate) that lets more than max_items items through. */
  limitGate?: string | null | undefined;
}

/** An item packet file to write (run-relative path, exact bytes) before the event that names it. */
export interface FanoutFile {
  path: string;
  text: string;
  digest: Digest;
}

export type FanoutExpansion =
  | {
      kind: "expanded";
      /** One fanout.expanded draft. */
      events: EventDraft[];
      /** Item packet files that are new or changed (kept ones are already on disk, named by an earlier event). */
      files: FanoutFile[];
      /** Every current item packet with its digest, in expansion order (item by item, pipeline order). */
      packets: { packet: Packet; digest: Digest }[];
      dropped: string[];
      items: number;
    }
  | { kind: "over-limit"; items: number; max_items: number }
  | { kind: "invalid"; events: EventDraft[]; reason: string };

/** Fields of an item worth a slug (the key's value); anything else in it is hashed. */
function keySlug(value: string, room: number): string {
  const s = value
    .normalize("NFKD")
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "")
    .slice(0, Math.max(1, room))
    .replace(/[^A-Za-z0-9]+$/, "");
  return s === "" ? "item" : s;
}

/**
 * An item packet's id: `<phase>/<key-slug>-<first 8 hex of digest(item)>`. The key is
 * slugged (letters, digits, `.`, `_`, `-`; it starts and ends with a letter or digit),
 * so an id never escapes `packets/<phase>/`.
 */
export function fanoutItemId(phase: string, key: string, itemDigest: Digest): string {
  const hex = itemDigest.slice("sha256:".length, "sha256:".length + 8);
  const room = Math.min(60, 200 - phase.length - 1 - 9);
  return `${phase}/${keySlug(key, room)}-${hex}`;
}

/** One item of a fan-out's list: its value, its key (as a string) and its digest. */
export interface FanoutItem {
  value: Record<string, unknown>;
  key: string;
  digest: Digest;
}

/** The list's values: a JSON list, or one JSON value per non-empty line (JSON Lines). */
function parseValues(text: string, format: string): { values: unknown[] } | { problem: string } {
  try {
    if (format === "jsonl") {
      const values = text
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as unknown);
      return { values };
    }
    const v = JSON.parse(text) as unknown;
    return Array.isArray(v) ? { values: v } : { problem: "it is not a JSON list" };
  } catch (e) {
    return {
      problem: `it does not parse as ${format === "jsonl" ? "JSON Lines" : "JSON"}: ${(e as Error).message}`,
    };
  }
}

/** Item `i` of the list, or why it cannot be one: not an object, a required field missing, a bad key. */
function checkItem(v: unknown, i: number, key: string, required: readonly string[]): FanoutItem | string {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return `item ${i} is not an object`;
  const o = v as Record<string, unknown>;
  const missing = required.filter((f) => !(f in o) || o[f] === null || o[f] === undefined);
  if (missing.length > 0) return `item ${i} lacks ${missing.join(", ")}`;
  const k = o[key];
  if (!(typeof k === "string" || typeof k === "boolean" || (typeof k === "number" && Number.isFinite(k))))
    return `item ${i}: key ${key} is not a string, number or boolean`;
  const ks = String(k);
  if (ks.trim() === "") return `item ${i}: key ${key} is empty`;
  return { value: o, key: ks, digest: digest(o) };
}

/**
 * The items of a fan-out's source handoff (`format` "jsonl" or a JSON list), each an
 * object with the `required` fields and a usable, unique `key`; or the first problem.
 */
export function parseItems(
  bytes: Uint8Array,
  format: string,
  key: string,
  required: readonly string[],
): { items: FanoutItem[] } | { problem: string } {
  const parsed = parseValues(Buffer.from(bytes).toString("utf8"), format);
  if ("problem" in parsed) return parsed;
  const items: FanoutItem[] = [];
  const seen = new Map<string, number>();
  for (const [i, v] of parsed.values.entries()) {
    const item = checkItem(v, i, key, required);
    if (typeof item === "string") return { problem: item };
    const j = seen.get(item.key);
    if (j !== undefined)
      return { problem: `items ${j} and ${i} have the same ${key} ${JSON.stringify(item.key)}` };
    seen.set(item.key, i);
    items.push(item);
  }
  return { items };
}

/**
 * The gate that stops a fan-out with more items than its max_items: a run-time gate
 * (no file; the digest is in gate.opened) holding the source packet, deterministic
 * from the fan-out, the count and the source handoff. Approving it expands every
 * item; rejecting it sends the source back. `k` numbers the asks (1, 2, ...).
 */
export function fanoutLimitGate(
  template: Packet,
  source: { artifact: string; digest: Digest },
  items: number,
  k: number,
): Gate {
  const fo = template.fanout as PacketFanoutTemplate;
  return {
    kind: "gate",
    schema_version: "1",
    gate_id: `fanout-limit/${fo.first}/${k}`,
    category: "human-review",
    trigger: `${fo.source_packet} listed ${items} items in ${source.artifact}; fan-out ${fo.first} allows at most ${fo.max_items} without an approval`,
    safe_default: `expand nothing; approve to run all ${items} items, reject with a reason to send ${fo.source_packet} back`,
    source: "runtime",
    packets: [fo.source_packet],
    review: [
      `handoffs/${source.artifact} (${source.digest}): ${items} items`,
      `max_items of fan-out ${fo.first}: ${fo.max_items}`,
    ],
    requires_approval: true,
  };
}

/** The executor's rule for an output that is a file (looksLikePath): no whitespace, and a `/`, `*` or an extension. */
function isFileOutput(o: PacketOutput): boolean {
  if (o.format !== undefined) return true;
  const a = o.artifact;
  return !/\s/.test(a) && (a.includes("/") || a.includes("*") || /\.[A-Za-z0-9]{1,10}$/.test(a));
}

function itemOutputs(t: Packet, id: string, ids: (phase: string) => string | null): PacketOutput[] {
  return t.outputs.map((o) => {
    // File outputs move under the item's folder; prose outputs ("a summary") stay as they are.
    const out: PacketOutput = { ...o, artifact: isFileOutput(o) ? `${id}/${o.artifact}` : o.artifact };
    // The item's outputs live in its own folder; its validation commands run there.
    if (o.validation_command !== undefined) out.validation_command = `cd ${id} && ${o.validation_command}`;
    if (o.to_packets !== undefined) out.to_packets = o.to_packets.map((p) => ids(p) ?? p);
    if (o.required_fields !== undefined) out.required_fields = [...o.required_fields];
    return out;
  });
}

/** The fan-out of `templates` (the first template's); ERR_INGEST_FANOUT_INVALID unless they are its pipeline. */
function fanoutOf(templates: readonly FanoutTemplate[]): PacketFanoutTemplate {
  const first = templates[0];
  const fo = first?.packet.fanout;
  if (!first || fo?.role !== "template" || fo.position !== 0) {
    throw ingesterErrors.create(
      "ERR_INGEST_FANOUT_INVALID",
      "expandFanout needs the fan-out's first template",
      {
        details: { templates: templates.map((t) => t.packet.packet_id) },
      },
    );
  }
  if (templates.map((t) => t.packet.packet_id).join("\n") !== fo.pipeline.join("\n")) {
    throw ingesterErrors.create(
      "ERR_INGEST_FANOUT_INVALID",
      `templates ${templates.map((t) => t.packet.packet_id).join(", ")} are not the pipeline ${fo.pipeline.join(", ")}`,
    );
  }
  return fo;
}

/** Is input `i` the source handoff the fan-out's items come from? */
function isSourceInput(i: { artifact: string; from_packet: string }, fo: PacketFanoutTemplate): boolean {
  return i.artifact === fo.over && i.from_packet === fo.source_packet;
}

/** A fan-out that cannot expand: `packet.failed` of its first template, the reason carrying ERR_INGEST_FANOUT_INVALID. */
function invalidExpansion(fo: PacketFanoutTemplate, problem: string): FanoutExpansion {
  const reason = `ERR_INGEST_FANOUT_INVALID: ${problem}`;
  return {
    kind: "invalid",
    reason,
    events: [{ type: "packet.failed", data: { packet_id: fo.first, reason } }],
  };
}

/**
 * Item `item`'s packet of template `t`: the template with the item's id, its
 * dependencies and inputs on the same item's earlier phases (`ids` maps a pipeline
 * phase to the item's packet of it, null for any other packet), its outputs under
 * `<id>/`, and `fanout` naming the item. The template's other fields are shared, not
 * copied: nothing here mutates a packet.
 */
export function itemPacket(
  t: FanoutTemplate,
  fo: PacketFanoutTemplate,
  item: FanoutItem,
  ids: (phase: string) => string | null,
): Packet {
  const tp = t.packet;
  const id = ids(tp.packet_id) as string;
  return {
    ...tp,
    packet_id: id,
    depends_on: tp.depends_on.map((d) => ids(d) ?? d),
    inputs: tp.inputs
      .filter((i) => !isSourceInput(i, fo))
      .map((i) => ({
        ...i,
        from_packet: ids(i.from_packet) ?? i.from_packet,
        required_fields: [...i.required_fields],
      })),
    outputs: itemOutputs(tp, id, ids),
    fanout: {
      role: "item",
      template: tp.packet_id,
      template_digest: t.digest,
      first: fo.first,
      key: item.key,
      item: structuredClone(item.value),
      item_digest: item.digest,
      source_packet: fo.source_packet,
      reduce: fo.reduce,
    },
  };
}

/**
 * Every item's packets with their digests (item by item, pipeline order) and the files
 * of those new or changed since the `previous` expansion (id → digest); or the problem
 * of the first that is not a valid packet.
 */
function itemPackets(
  templates: readonly FanoutTemplate[],
  fo: PacketFanoutTemplate,
  items: readonly FanoutItem[],
  previous: ReadonlyMap<string, string>,
): { packets: { packet: Packet; digest: Digest }[]; files: FanoutFile[] } | { problem: string } {
  const pipeline = new Set(fo.pipeline);
  const packets: { packet: Packet; digest: Digest }[] = [];
  const files: FanoutFile[] = [];
  for (const item of items) {
    const ids = (phase: string) => (pipeline.has(phase) ? fanoutItemId(phase, item.key, item.digest) : null);
    for (const t of templates) {
      const packet = itemPacket(t, fo, item, ids);
      const id = packet.packet_id;
      const v = validateSchema("packet", packet);
      if (!v.ok) {
        return {
          problem: `item ${JSON.stringify(item.key)} makes an invalid packet ${id}: ${JSON.stringify(v.problems.slice(0, 3))}`,
        };
      }
      // One canonicalization gives the digest and the file's canonical rendering (renderArtifact).
      const canonical = canonicalJson(packet);
      const d = digestBytes(canonical);
      packets.push({ packet, digest: d });
      if (previous.get(id) !== d) {
        const text = `${JSON.stringify(JSON.parse(canonical), null, 2)}\n`;
        files.push({ path: `packets/${id}.json`, text, digest: digestBytes(text) });
      }
    }
  }
  return { packets, files };
}

/** Item packets of the `previous` expansion that the new one no longer has, in their previous order. */
function droppedIds(previous: ReadonlyMap<string, string>, packets: readonly { packet: Packet }[]): string[] {
  const current = new Set(packets.map((p) => p.packet.packet_id));
  return [...previous.keys()].filter((id) => !current.has(id));
}

/** The fanout.expanded draft naming every current item packet, the dropped ones and the files to write first. */
function expansionEvent(
  fo: PacketFanoutTemplate,
  source: FanoutSource,
  items: number,
  out: {
    packets: readonly { packet: Packet; digest: Digest }[];
    dropped: string[];
    files: readonly FanoutFile[];
  },
  limitGate: string | null,
): EventDraft {
  return {
    type: "fanout.expanded",
    data: {
      from_packet: fo.source_packet,
      first: fo.first,
      templates: [...fo.pipeline],
      handoff: { artifact: source.artifact, digest: source.digest, items },
      packets: out.packets.map((p) => ({
        packet_id: p.packet.packet_id,
        template: (p.packet.fanout as { template: string }).template,
        digest: p.digest,
        depends_on: [...p.packet.depends_on],
      })),
      dropped: out.dropped,
      limit_gate: limitGate,
      files: out.files.map((f) => ({ path: f.path, digest: f.digest })),
    },
  };
}

/**
 * Expand a fan-out once its source packet completed: read the source handoff's items
 * (a JSON list, or JSON Lines), check each against the handoff's required fields and
 * the key, and build one item packet per item per per-item phase, with id
 * `<phase>/<key-slug>-<8 hex of digest(item)>`. An item packet is its template with
 * that id, its dependencies and inputs on the same item's earlier phase, its outputs
 * under `<id>/`, and `fanout` naming the item. Compared with the last expansion in
 * `state`, unchanged items keep their packets (a completed one never runs again),
 * new or changed items get new ones, and items that left are `dropped`.
 * More than max_items items (and no approved limit gate) → `over-limit`, nothing
 * expanded; an unreadable list or a bad item → `invalid` with `packet.failed` of the
 * fan-out's first template (ERR_INGEST_FANOUT_INVALID in the reason). Pure.
 */
export function expandFanout(input: ExpandFanoutInput): FanoutExpansion {
  const { state, templates, source } = input;
  const fo = fanoutOf(templates);
  const input0 = templates[0]?.packet.inputs.find((i) => isSourceInput(i, fo));
  const parsed = parseItems(source.bytes, input0?.format ?? "json-list", fo.key, [
    ...new Set([fo.key, ...(input0?.required_fields ?? [])]),
  ]);
  if ("problem" in parsed) {
    return invalidExpansion(
      fo,
      `${fo.source_packet}'s ${source.artifact} (${source.digest}) cannot be expanded: ${parsed.problem}`,
    );
  }
  const items = parsed.items;
  if (items.length > fo.max_items && !input.limitGate) {
    return { kind: "over-limit", items: items.length, max_items: fo.max_items };
  }
  const previous = new Map((state.fanouts?.[fo.first]?.packets ?? []).map((p) => [p.packet_id, p.digest]));
  const built = itemPackets(templates, fo, items, previous);
  if ("problem" in built) return invalidExpansion(fo, built.problem);
  const { packets, files } = built;
  const dropped = droppedIds(previous, packets);
  const event = expansionEvent(
    fo,
    source,
    items.length,
    { packets, dropped, files },
    input.limitGate ?? null,
  );
  return { kind: "expanded", events: [event], files, packets, dropped, items: items.length };
}

/** One item's handoff for the reduce packet's list. */
export interface ReduceEntry {
  packet: Packet;
  bytes: Uint8Array;
}

/**
 * The reduce packet's input: every item packet's handoff of one per-item phase as one
 * JSON list, in expansion order: `{ key, packet_id, item, handoff }` per item, where
 * `handoff` is the parsed JSON (a JSON Lines file: the list of its lines' values) or,
 * for any other file, its text. Deterministic bytes for the same handoffs.
 */
export function reduceList(entries: readonly ReduceEntry[]): string {
  const list = entries.map((e) => {
    const fo = e.packet.fanout;
    const text = Buffer.from(e.bytes).toString("utf8");
    let handoff: unknown = text;
    try {
      handoff = JSON.parse(text);
    } catch {
      const lines = text.split("\n").filter((l) => l.trim() !== "");
      try {
        handoff = lines.map((l) => JSON.parse(l) as unknown);
      } catch {
        handoff = text;
      }
    }
    return {
      key: fo?.role === "item" ? fo.key : e.packet.packet_id,
      packet_id: e.packet.packet_id,
      item: fo?.role === "item" ? fo.item : null,
      handoff,
    };
  });
  return `${JSON.stringify(list, null, 2)}\n`;
}

/** Flush every written file of the file system at once (Linux `sync -f`, i.e. syncfs); false when unavailable. */
function syncFileSystem(dir: string): boolean {
  const r = spawnSync("sync", ["-f", dir], { stdio: "ignore" });
  return r.status === 0;
}

/**
 * Write item packet files before the fanout.expanded event that names them: each file
 * through a temp file renamed into place (a reader never sees a partial file), then all
 * of them made durable before returning: one syncfs for the whole batch (an fsync per
 * file where that is unavailable), and each directory synced. Idempotent: a crash before
 * the append leaves files that no event names yet; the next expansion writes them again.
 */
export function writeFanoutFiles(runDir: string, files: readonly FanoutFile[]): void {
  // Each folder is checked once (no `..`, no symlinked component); a file name is one slug segment.
  const dirs = new Map<string, string>();
  const written: string[] = [];
  for (const f of files) {
    const rel = path.posix.dirname(f.path);
    let dir = dirs.get(rel);
    if (dir === undefined) {
      dir = resolveInside(runDir, rel, "fan-out packet folder");
      fs.mkdirSync(dir, { recursive: true });
      dirs.set(rel, dir);
    }
    const abs = path.join(dir, path.posix.basename(f.path));
    const tmp = `${abs}.tmp`;
    fs.writeFileSync(tmp, f.text, { mode: 0o644 });
    fs.renameSync(tmp, abs);
    written.push(abs);
  }
  if (written.length > 0 && !syncFileSystem(runDir)) {
    for (const abs of written) {
      const fd = fs.openSync(abs, "r");
      try {
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    }
  }
  for (const d of dirs.values()) fsyncDir(d);
}
