import type { Packet } from "@dwm/schemas";
import { looksLikePath, ownershipRule } from "./internal/ownership.js";

/** Whether a packet's attempt can run in the shared read-only view, and why not when it cannot. */
export type ViewEligibility =
  | {
      eligible: true;
      /** The packet's output folder (`<packet id>`, relative to the checkout, no trailing slash): its only writable place. */
      folder: string;
    }
  | { eligible: false; reason: string };

const GLOB_CHARS = /[*?[\]{}()!+@]/;

function inFolder(entry: string, folder: string): boolean {
  const clean = entry.replace(/^\.\//, "").replace(/\/+$/, "");
  if (clean.split("/").some((s) => s === ".." || s === ".")) return false;
  return clean === folder || clean.startsWith(`${folder}/`);
}

/** Why a worker could write outside `folder`, or null when every write it may make lands in it. */
function workerOutside(w: Packet["workers"][number], folder: string): string | null {
  if (!w.tool_permissions.write) return null;
  const rule = ownershipRule(w.ownership);
  if (rule.globs.length === 0) return `worker ${w.id} may write and its ownership names no paths`;
  if (rule.prose.length > 0) return `worker ${w.id}'s ownership names areas that are not paths`;
  const outside = rule.globs.find((g) => !inFolder(g, folder));
  return outside === undefined ? null : `worker ${w.id} owns ${JSON.stringify(outside)}, outside ${folder}/`;
}

/**
 * Whether every write a packet's attempt may make is confined to its output folder
 * (`<packet id>/`, where docs/fan-out.md puts an item's outputs), so it needs no checkout of its
 * own: a fan-out item's `command`, or workers that are read-only or own only paths in that
 * folder, with every declared output that is a path inside it. A command outside a fan-out has
 * no ownership (it may write anywhere) and keeps its checkout. Pure: decided from the packet alone;
 * the attempt also needs a sandbox that can hold the view read-only.
 */
export function viewEligibility(packet: Packet): ViewEligibility {
  const folder = packet.packet_id;
  if (GLOB_CHARS.test(folder) || folder.split("/").some((s) => s === "" || s === "." || s === "..")) {
    return { eligible: false, reason: `packet id ${folder} is not a plain folder name` };
  }
  const outside = packet.outputs.find((o) => looksLikePath(o.artifact) && !inFolder(o.artifact, folder));
  if (outside !== undefined) {
    return { eligible: false, reason: `declared output ${outside.artifact} is outside ${folder}/` };
  }
  if (packet.command !== undefined) {
    return packet.fanout?.role === "item"
      ? { eligible: true, folder }
      : { eligible: false, reason: "a command outside a fan-out has no ownership: it may write anywhere" };
  }
  if (packet.workers.length === 0) return { eligible: false, reason: "the packet has no workers" };
  for (const w of packet.workers) {
    const why = workerOutside(w, folder);
    if (why !== null) return { eligible: false, reason: why };
  }
  return { eligible: true, folder };
}
