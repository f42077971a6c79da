// The part of DWM's MCP server a client's handshake needs (initialize, tools/list, ping), free of
// the SDK: `dwm mcp` answers it from what the build computed (prebuilt-tools.ts) and loads the SDK
// only for the first other message. server.ts builds the SDK server from the same constants.
import { dwmVersion } from "../../version.js";
import type { PrebuiltHandshake } from "./prebuilt-tools.js";

/** The server's instructions to its client (initialize). */
export const INSTRUCTIONS = [
  "DWM (the Deterministic Workflow Machine) runs large agent work as a plan of content-hashed packets with recorded evidence, reviews and human gates.",
  "Design a plan with the skill (resource dwm://skill/SKILL.md), check it with evaluate, start it with run, follow it with status, next and log, look at a packet with show and at gates with gates.",
  "Gates are decided by a person (dwm approve / dwm reject on their terminal): no tool here approves, rejects or changes an approval policy.",
].join(" ");

/** What the server offers (initialize). */
export const CAPABILITIES = { tools: {}, resources: {} };

/** Who the server is (initialize). */
export function serverInfo(): { name: string; title: string; version: string } {
  return { name: "dwm", title: "DWM", version: dwmVersion() };
}

/**
 * What the front does with one line: its answer (null: none), and the message the SDK server must
 * see too once it starts (null: none), so that it knows the session as the client began it.
 */
export interface HandshakeStep {
  reply: string | null;
  replay: Record<string, unknown> | null;
}

type Json = Record<string, unknown>;
type Id = string | number;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is Id => typeof v === "string" || Number.isSafeInteger(v);
const onlyKeys = (o: Json, allowed: readonly string[]): boolean =>
  Object.keys(o).every((k) => allowed.includes(k));
const isString = (v: unknown): boolean => typeof v === "string";

/** A JSON-RPC answer as the SDK's stdio transport writes it (same keys, same order). */
function answer(id: Id, result: unknown): string {
  return `${JSON.stringify({ result, jsonrpc: "2.0", id })}\n`;
}

/** An initialize request's params the SDK accepts for certain: known keys, of the right types. */
function plainInitialize(p: unknown): p is { protocolVersion: string } {
  if (!isObject(p) || !onlyKeys(p, ["protocolVersion", "capabilities", "clientInfo"])) return false;
  const info = p.clientInfo;
  return (
    isString(p.protocolVersion) &&
    isObject(p.capabilities) &&
    Object.values(p.capabilities).every(isObject) &&
    isObject(info) &&
    onlyKeys(info, ["name", "version", "title"]) &&
    isString(info.name) &&
    isString(info.version) &&
    (info.title === undefined || isString(info.title))
  );
}

/** Params of a request that takes none, or only a cursor (tools/list ignores it: one page). */
const noParams = (p: unknown): boolean =>
  p === undefined ||
  (isObject(p) && onlyKeys(p, ["cursor"]) && (p.cursor === undefined || isString(p.cursor)));

/**
 * The front's answer to one line (without its newline) of a client's handshake, as DWM's SDK
 * server would answer it; null for anything else (other methods, bad or unusual messages),
 * which the SDK server then answers.
 */
export function handshakeStep(line: string, pre: PrebuiltHandshake): HandshakeStep | null {
  let m: unknown;
  try {
    m = JSON.parse(line);
  } catch {
    return null;
  }
  if (!isObject(m) || m.jsonrpc !== "2.0") return null;
  if (m.method === "notifications/initialized" && !("id" in m) && onlyKeys(m, ["jsonrpc", "method"]))
    return { reply: null, replay: m };
  if (!onlyKeys(m, ["jsonrpc", "id", "method", "params"]) || !isId(m.id)) return null;
  if (m.method === "initialize" && plainInitialize(m.params)) {
    const asked = m.params.protocolVersion;
    const protocolVersion = pre.protocolVersions.includes(asked) ? asked : pre.latestProtocolVersion;
    const result = {
      protocolVersion,
      capabilities: CAPABILITIES,
      serverInfo: serverInfo(),
      instructions: INSTRUCTIONS,
    };
    return { reply: answer(m.id, result), replay: m };
  }
  if (m.method === "tools/list" && noParams(m.params))
    return {
      reply: `{"result":{"tools":${pre.toolList}},"jsonrpc":"2.0","id":${JSON.stringify(m.id)}}\n`,
      replay: null,
    };
  if (m.method === "ping" && m.params === undefined) return { reply: answer(m.id, {}), replay: null };
  return null;
}
