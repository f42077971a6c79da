// The OpenAI Responses API as the Codex CLI consumes it (`wire_api = "responses"`): POST /v1/responses
// with `stream: true`, answered as server-sent events `response.created`, `response.output_item.*`,
// `response.completed` (with usage). The history is resent with every request (`store: false`).
import type { ScriptTurn, ScriptUsage } from "./script.js";

type Item = Record<string, unknown>;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** The model turns already in a request's history: one output item per scripted turn. */
export function responsesTurnsDone(body: unknown): number {
  if (!isObject(body) || !Array.isArray(body.input)) return 0;
  let n = 0;
  for (const item of body.input) {
    if (!isObject(item)) continue;
    const t = item.type;
    if (t === "function_call" || t === "custom_tool_call" || t === "local_shell_call") n++;
    else if ((t === "message" || t === undefined) && item.role === "assistant") n++;
  }
  return n;
}

/** All text of the request's user messages (what the CLI sent as the task). */
export function responsesUserText(body: unknown): string {
  if (!isObject(body) || !Array.isArray(body.input)) return "";
  const parts: string[] = [];
  for (const item of body.input) {
    if (!isObject(item) || item.role !== "user") continue;
    if (typeof item.content === "string") parts.push(item.content);
    else if (Array.isArray(item.content)) {
      for (const c of item.content) if (isObject(c) && typeof c.text === "string") parts.push(c.text);
    }
  }
  return parts.join("\n");
}

/** Names of the tools a request offers, by kind. */
function offeredTools(body: unknown): { functions: Set<string>; custom: Set<string> } {
  const functions = new Set<string>();
  const custom = new Set<string>();
  const visit = (tools: unknown) => {
    if (!Array.isArray(tools)) return;
    for (const t of tools) {
      if (!isObject(t) || typeof t.name !== "string") continue;
      if (t.type === "function") functions.add(t.name);
      else if (t.type === "custom") custom.add(t.name);
      else if (t.type === "namespace") visit(t.tools);
    }
  };
  if (isObject(body)) visit(body.tools);
  return { functions, custom };
}

/** An apply_patch document that creates (or replaces) a file. */
export function addFilePatch(file: string, content: string): string {
  const lines = content.endsWith("\n") ? content.slice(0, -1).split("\n") : content.split("\n");
  return `*** Begin Patch\n*** Add File: ${file}\n${lines.map((l) => `+${l}\n`).join("")}*** End Patch\n`;
}

/** An apply_patch document that replaces the lines of `old` with the lines of `neu` in a file. */
export function updateFilePatch(file: string, old: string, neu: string): string {
  const split = (s: string) => (s.endsWith("\n") ? s.slice(0, -1) : s).split("\n");
  return `*** Begin Patch\n*** Update File: ${file}\n@@\n${split(old)
    .map((l) => `-${l}\n`)
    .join("")}${split(neu)
    .map((l) => `+${l}\n`)
    .join("")}*** End Patch\n`;
}

const shQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** A shell command that writes `content` to `file` exactly (no tool for files offered). */
function writeCommand(file: string, content: string): string {
  const dir = file.includes("/") ? `mkdir -p ${shQuote(file.slice(0, file.lastIndexOf("/")))} && ` : "";
  return `${dir}printf %s ${shQuote(Buffer.from(content).toString("base64"))} | base64 -d > ${shQuote(file)}`;
}

/**
 * The output item of one scripted turn in the tools this request offers, or a problem when the
 * CLI offers no tool for it.
 */
export function responsesItem(
  turn: Exclude<ScriptTurn, { kind: "error" } | { kind: "hang" }>,
  body: unknown,
  callId: string,
): { item: Item } | { problem: string } {
  const { functions, custom } = offeredTools(body);
  const call = (name: string, args: unknown): Item =>
    custom.has(name)
      ? {
          type: "custom_tool_call",
          call_id: callId,
          name,
          input: typeof args === "string" ? args : JSON.stringify(args),
        }
      : { type: "function_call", call_id: callId, name, arguments: JSON.stringify(args) };
  const shell = (cmd: string): { item: Item } | { problem: string } => {
    if (functions.has("exec_command")) return { item: call("exec_command", { cmd }) };
    if (functions.has("shell_command")) return { item: call("shell_command", { command: cmd }) };
    if (functions.has("shell")) return { item: call("shell", { command: ["bash", "-lc", cmd] }) };
    // Code mode: one custom tool `exec` that runs JavaScript with the other tools under `tools`.
    if (custom.has("exec"))
      return { item: call("exec", `await tools.exec_command({cmd: ${JSON.stringify(cmd)}}); text("ok")`) };
    return { problem: "the request offers no shell tool (exec_command, shell_command, shell, exec)" };
  };
  const patch = (doc: string, fallback: string): { item: Item } | { problem: string } => {
    if (custom.has("apply_patch") || functions.has("apply_patch"))
      return { item: call("apply_patch", custom.has("apply_patch") ? doc : { input: doc }) };
    return shell(fallback);
  };
  switch (turn.kind) {
    case "text":
      return {
        item: {
          type: "message",
          role: "assistant",
          status: "completed",
          content: [{ type: "output_text", text: turn.text, annotations: [] }],
        },
      };
    case "shell":
      return shell(turn.command);
    case "read":
      return shell(`cat ${shQuote(turn.path)}`);
    case "write":
      return patch(addFilePatch(turn.path, turn.content), writeCommand(turn.path, turn.content));
    case "edit":
      return patch(
        updateFilePatch(turn.path, turn.old, turn.new),
        `python3 - <<'PY'\nimport pathlib\np=pathlib.Path(${JSON.stringify(turn.path)})\np.write_text(p.read_text().replace(${JSON.stringify(turn.old)}, ${JSON.stringify(turn.new)}, 1))\nPY`,
      );
    case "tool":
      return { item: call(turn.name, turn.input) };
  }
}

export function responsesUsage(u: ScriptUsage): Record<string, unknown> {
  return {
    input_tokens: u.input_tokens,
    input_tokens_details: { cached_tokens: u.cached_input_tokens ?? 0 },
    output_tokens: u.output_tokens,
    output_tokens_details: { reasoning_tokens: u.reasoning_output_tokens ?? 0 },
    total_tokens: u.input_tokens + u.output_tokens,
  };
}

/** The SSE events of one reply: created, the item (text streamed as deltas too), completed with usage. */
export function responsesEvents(
  responseId: string,
  model: string,
  item: Item,
  itemId: string,
  usage: ScriptUsage,
): [string, unknown][] {
  const full = { id: itemId, ...item };
  const base = { id: responseId, object: "response", model, created_at: 0 };
  const events: [string, unknown][] = [
    [
      "response.created",
      { type: "response.created", response: { ...base, status: "in_progress", output: [] } },
    ],
    [
      "response.output_item.added",
      {
        type: "response.output_item.added",
        output_index: 0,
        item: item.type === "message" ? { ...full, status: "in_progress", content: [] } : full,
      },
    ],
  ];
  if (item.type === "message") {
    const content = item.content as { text: string }[];
    for (const c of content) {
      events.push([
        "response.output_text.delta",
        {
          type: "response.output_text.delta",
          item_id: itemId,
          output_index: 0,
          content_index: 0,
          delta: c.text,
        },
      ]);
    }
  }
  events.push(
    ["response.output_item.done", { type: "response.output_item.done", output_index: 0, item: full }],
    [
      "response.completed",
      {
        type: "response.completed",
        response: { ...base, status: "completed", output: [full], usage: responsesUsage(usage) },
      },
    ],
  );
  return events;
}

const ERROR_SHAPES: Record<number, { type: string; code: string | null; message: string }> = {
  400: { type: "invalid_request_error", code: null, message: "Bad request" },
  401: { type: "invalid_request_error", code: "invalid_api_key", message: "Incorrect API key provided" },
  403: { type: "invalid_request_error", code: "unsupported_country_region_territory", message: "Forbidden" },
  429: { type: "requests", code: "rate_limit_exceeded", message: "Rate limit reached" },
  500: { type: "server_error", code: null, message: "The server had an error while processing your request" },
  503: { type: "server_error", code: null, message: "The engine is currently overloaded" },
};

/** The JSON body of an HTTP error, as the OpenAI API shapes it. */
export function responsesErrorBody(
  status: number,
  message: string | undefined,
  retryAfter?: number,
): unknown {
  const shape = ERROR_SHAPES[status] ?? { type: "server_error", code: null, message: `HTTP ${status}` };
  const text = message ?? shape.message;
  return {
    error: {
      message:
        status === 429 && retryAfter !== undefined ? `${text}. Please try again in ${retryAfter}s.` : text,
      type: shape.type,
      param: null,
      code: shape.code,
    },
  };
}
