/** Token figures a scripted model turn reports (each dialect renders them in its own field names). */
export interface ScriptUsage {
  input_tokens: number;
  output_tokens: number;
  /** Prompt tokens served from cache (Responses `input_tokens_details.cached_tokens`, Messages `cache_read_input_tokens`). */
  cached_input_tokens?: number;
  /** Responses only: `output_tokens_details.reasoning_tokens`. */
  reasoning_output_tokens?: number;
}

/**
 * One model turn. The model-level actions (`shell`, `write`, `edit`, `read`) are rendered in the
 * calling CLI's own tool vocabulary (Codex: `exec_command` / `apply_patch` / its `exec` code tool,
 * whichever the request offers; Claude Code: `Bash`, `Write`, `Edit`, `Read`); `tool` is a raw call
 * by name for anything else. A turn that calls a tool ends the model's message: the CLI runs the
 * tool and sends the result in its next request.
 */
export type ScriptTurn =
  | { kind: "text"; text: string; usage?: ScriptUsage }
  | { kind: "shell"; command: string; usage?: ScriptUsage }
  | { kind: "write"; path: string; content: string; usage?: ScriptUsage }
  | { kind: "edit"; path: string; old: string; new: string; usage?: ScriptUsage }
  | { kind: "read"; path: string; usage?: ScriptUsage }
  | { kind: "tool"; name: string; input: unknown; usage?: ScriptUsage }
  /**
   * An HTTP error instead of a reply: 401, 429 (with `retry-after` seconds), 500, ... Answered
   * `times` times (default: every request from here on), then the script goes on.
   */
  | { kind: "error"; status: number; message?: string; retryAfterSeconds?: number; times?: number }
  /** Accept the request and never answer (the connection stays open until the server closes). */
  | { kind: "hang" };

/** A script: the turns of one conversation, optionally only for conversations whose user text contains `when`. */
export interface ModelScript {
  turns: ScriptTurn[];
  /** Serve conversations whose user messages contain this text (e.g. a packet id); default: any. */
  when?: string;
  /** Serve only this API's conversations (`responses`: Codex, `messages`: Claude Code); default: both. */
  dialect?: "responses" | "messages";
  /** Label in recorded requests; default `when` or "default". */
  name?: string;
}

export const DEFAULT_USAGE: ScriptUsage = { input_tokens: 10, output_tokens: 5 };

export type ResolvedTurn =
  | { kind: "turn"; turn: Exclude<ScriptTurn, { kind: "error" } | { kind: "hang" }>; index: number }
  | { kind: "error"; turn: Extract<ScriptTurn, { kind: "error" }>; index: number }
  | { kind: "hang"; index: number }
  | { kind: "end" };

/**
 * The turn that answers a request whose history already holds `done` model turns. The position
 * comes from the conversation itself (the CLIs resend the whole history), so concurrent
 * conversations and retried requests need no server-side cursor; only error turns count how
 * often they were served (`served`, by script position).
 */
export function resolveTurn(script: ModelScript, done: number, served: Map<number, number>): ResolvedTurn {
  let seen = 0;
  for (let i = 0; i < script.turns.length; i++) {
    const t = script.turns[i];
    if (t === undefined) continue;
    if (t.kind === "error" || t.kind === "hang") {
      if (seen !== done) continue;
      if (t.kind === "hang") return { kind: "hang", index: i };
      const n = served.get(i) ?? 0;
      if (t.times === undefined || n < t.times) {
        served.set(i, n + 1);
        return { kind: "error", turn: t, index: i };
      }
      continue;
    }
    if (seen === done) return { kind: "turn", turn: t, index: i };
    seen++;
  }
  return { kind: "end" };
}
