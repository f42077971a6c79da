// The Anthropic Messages API as Claude Code consumes it: POST /v1/messages (`?beta=true`) with
// `stream: true`, answered as server-sent events message_start, content_block_start/delta/stop,
// message_delta (stop_reason, output usage), message_stop. The history is resent with every request.
import path from "node:path";
import type { ScriptTurn, ScriptUsage } from "./script.js";

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** The model turns already in a request's history (assistant messages). */
export function messagesTurnsDone(body: unknown): number {
  if (!isObject(body) || !Array.isArray(body.messages)) return 0;
  return body.messages.filter((m) => isObject(m) && m.role === "assistant").length;
}

/** All text of the request's user messages (the task; tool results are not text blocks). */
export function messagesUserText(body: unknown): string {
  if (!isObject(body) || !Array.isArray(body.messages)) return "";
  const parts: string[] = [];
  for (const m of body.messages) {
    if (!isObject(m) || m.role !== "user") continue;
    if (typeof m.content === "string") parts.push(m.content);
    else if (Array.isArray(m.content)) {
      for (const c of m.content)
        if (isObject(c) && c.type === "text" && typeof c.text === "string") parts.push(c.text);
    }
  }
  return parts.join("\n");
}

/**
 * Requests outside the scripted conversation: Claude Code asks the model for a session title and
 * similar side answers in requests that offer no tools.
 */
export function isSideQuery(body: unknown): boolean {
  return !isObject(body) || !Array.isArray(body.tools) || body.tools.length === 0;
}

/** The side answer: a JSON title when the request asks for one, else a short text. */
export function sideAnswer(body: unknown): string {
  const format = isObject(body) && isObject(body.output_config) ? body.output_config.format : undefined;
  const props = isObject(format) && isObject(format.schema) ? format.schema.properties : undefined;
  if (isObject(props) && "title" in props) return JSON.stringify({ title: "Scripted session" });
  return "ok";
}

/** The working directory Claude Code states in its system prompt (file tools take absolute paths). */
export function messagesCwd(body: unknown): string | null {
  if (!isObject(body)) return null;
  const sys = body.system;
  const text =
    typeof sys === "string"
      ? sys
      : Array.isArray(sys)
        ? sys.map((b) => (isObject(b) && typeof b.text === "string" ? b.text : "")).join("\n")
        : "";
  return /(?:Primary working directory|Working directory): *(\/[^\n]*)/.exec(text)?.[1]?.trim() ?? null;
}

export type ContentBlock =
  | { type: "text"; text: string }
  | { type: "tool_use"; id: string; name: string; input: unknown };

/** The content block of one scripted turn, in Claude Code's tool names. */
export function messagesBlock(
  turn: Exclude<ScriptTurn, { kind: "error" } | { kind: "hang" }>,
  body: unknown,
  toolId: string,
): { block: ContentBlock } | { problem: string } {
  const abs = (p: string): string | null => {
    if (path.isAbsolute(p)) return p;
    const cwd = messagesCwd(body);
    return cwd === null ? null : path.join(cwd, p);
  };
  const use = (name: string, input: unknown): { block: ContentBlock } => ({
    block: { type: "tool_use", id: toolId, name, input },
  });
  const fileTool = (p: string, f: (file: string) => { block: ContentBlock }) => {
    const file = abs(p);
    return file === null ? { problem: `no working directory in the system prompt to resolve ${p}` } : f(file);
  };
  switch (turn.kind) {
    case "text":
      return { block: { type: "text", text: turn.text } };
    case "shell":
      return use("Bash", { command: turn.command, description: "Run the scripted command" });
    case "write":
      return fileTool(turn.path, (file) => use("Write", { file_path: file, content: turn.content }));
    case "edit":
      return fileTool(turn.path, (file) =>
        use("Edit", { file_path: file, old_string: turn.old, new_string: turn.new }),
      );
    case "read":
      return fileTool(turn.path, (file) => use("Read", { file_path: file }));
    case "tool":
      return use(turn.name, turn.input);
  }
}

/** The SSE events of one assistant message holding one block. */
export function messagesEvents(
  messageId: string,
  model: string,
  block: ContentBlock,
  usage: ScriptUsage,
): [string, unknown][] {
  const events: [string, unknown][] = [
    [
      "message_start",
      {
        type: "message_start",
        message: {
          id: messageId,
          type: "message",
          role: "assistant",
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: {
            input_tokens: usage.input_tokens,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: usage.cached_input_tokens ?? 0,
            output_tokens: 0,
          },
        },
      },
    ],
  ];
  if (block.type === "text") {
    events.push(
      [
        "content_block_start",
        { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
      ],
      [
        "content_block_delta",
        { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: block.text } },
      ],
    );
  } else {
    events.push(
      [
        "content_block_start",
        {
          type: "content_block_start",
          index: 0,
          content_block: { type: "tool_use", id: block.id, name: block.name, input: {} },
        },
      ],
      [
        "content_block_delta",
        {
          type: "content_block_delta",
          index: 0,
          delta: { type: "input_json_delta", partial_json: JSON.stringify(block.input) },
        },
      ],
    );
  }
  events.push(
    ["content_block_stop", { type: "content_block_stop", index: 0 }],
    [
      "message_delta",
      {
        type: "message_delta",
        delta: { stop_reason: block.type === "text" ? "end_turn" : "tool_use", stop_sequence: null },
        usage: { output_tokens: usage.output_tokens },
      },
    ],
    ["message_stop", { type: "message_stop" }],
  );
  return events;
}

const ERROR_TYPES: Record<number, [string, string]> = {
  400: ["invalid_request_error", "Bad request"],
  401: ["authentication_error", "invalid x-api-key"],
  403: ["permission_error", "Your API key does not have permission to use the specified resource."],
  404: ["not_found_error", "Not found"],
  429: ["rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"],
  500: ["api_error", "Internal server error"],
  529: ["overloaded_error", "Overloaded"],
};

/** The JSON body of an HTTP error, as the Anthropic API shapes it. */
export function messagesErrorBody(status: number, message: string | undefined): unknown {
  const [type, text] = ERROR_TYPES[status] ?? ["api_error", `HTTP ${status}`];
  return { type: "error", error: { type, message: message ?? text } };
}
