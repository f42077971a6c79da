// The scripted model server on its own (plain fetch): routing, turn positions, tool vocabularies,
// errors, hangs. The contract tests in @dwm/agent-contracts drive it with the real CLIs.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveTurn } from "./script.js";
import { type ModelServer, startModelServer } from "./server.js";

let server: ModelServer;
beforeAll(async () => {
  server = await startModelServer();
});
afterAll(async () => {
  await server.close();
});

/** POST a JSON body; returns the status, headers and the SSE events (or the JSON error). */
async function post(
  path: string,
  body: unknown,
): Promise<{ status: number; headers: Headers; events: [string, Record<string, unknown>][]; json: unknown }> {
  const r = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer k" },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  if (!(r.headers.get("content-type") ?? "").includes("event-stream")) {
    return { status: r.status, headers: r.headers, events: [], json: JSON.parse(text) };
  }
  const events = text
    .split("\n\n")
    .filter((b) => b.trim() !== "")
    .map((b) => {
      const [ev = "", data = ""] = b.split("\n");
      return [ev.replace("event: ", ""), JSON.parse(data.replace("data: ", ""))] as [
        string,
        Record<string, unknown>,
      ];
    });
  return { status: r.status, headers: r.headers, events, json: null };
}

const codexTools = [
  { type: "function", name: "exec_command", parameters: {} },
  { type: "custom", name: "apply_patch", format: {} },
];
const codexRequest = (input: unknown[], tools: unknown[] = codexTools) => ({
  model: "gpt-5.5",
  stream: true,
  input: [
    { type: "message", role: "user", content: [{ type: "input_text", text: "Do the packet work." }] },
    ...input,
  ],
  tools,
});
const claudeRequest = (messages: unknown[]) => ({
  model: "claude-sonnet-4-5",
  stream: true,
  system: [{ type: "text", text: "Primary working directory: /work/wt\nMore." }],
  tools: [{ name: "Bash" }, { name: "Write" }],
  messages: [{ role: "user", content: [{ type: "text", text: "Do the packet work." }] }, ...messages],
});

describe("scripted model server", () => {
  it("answers Codex in the tools it offers, at the position its history implies, with usage", async () => {
    server.script([
      { kind: "shell", command: "ls", usage: { input_tokens: 7, output_tokens: 3, cached_input_tokens: 2 } },
      { kind: "write", path: "a/b.txt", content: "x\ny\n" },
      { kind: "text", text: "done" },
    ]);
    const first = await post("/v1/responses", codexRequest([]));
    expect(first.events.map(([e]) => e)).toEqual([
      "response.created",
      "response.output_item.added",
      "response.output_item.done",
      "response.completed",
    ]);
    const call = first.events[2]?.[1].item as Record<string, unknown>;
    expect(call).toMatchObject({ type: "function_call", name: "exec_command", arguments: '{"cmd":"ls"}' });
    expect((first.events[3]?.[1].response as { usage?: unknown } | undefined)?.usage).toEqual({
      input_tokens: 7,
      input_tokens_details: { cached_tokens: 2 },
      output_tokens: 3,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 10,
    });
    // Sent again (a retry) it is the same turn; with the call in the history it is the next one.
    expect((await post("/v1/responses", codexRequest([]))).events[2]?.[1].item).toMatchObject({
      name: "exec_command",
    });
    const second = await post(
      "/v1/responses",
      codexRequest([call, { type: "function_call_output", output: "" }]),
    );
    expect(second.events[2]?.[1].item).toMatchObject({
      type: "custom_tool_call",
      name: "apply_patch",
      input: "*** Begin Patch\n*** Add File: a/b.txt\n+x\n+y\n*** End Patch\n",
    });
    // Without apply_patch on offer the write becomes a shell command.
    const noPatch = await post("/v1/responses", codexRequest([call], [codexTools[0]]));
    expect(String((noPatch.events[2]?.[1].item as { arguments?: string } | undefined)?.arguments)).toContain(
      "base64 -d > 'a/b.txt'",
    );
    expect(server.problems).toEqual([]);
    expect(server.requests.map((r) => [r.dialect, r.turnsDone, r.turnKind])).toEqual([
      ["responses", 0, "shell"],
      ["responses", 0, "shell"],
      ["responses", 1, "write"],
      ["responses", 1, "write"],
    ]);
    expect(server.requests[0]?.headers.authorization).toBe("Bearer k");
    expect(server.requests[0]?.userText).toBe("Do the packet work.");
  });

  it("answers Claude Code with tool_use blocks (absolute paths), leaves side queries out of the script", async () => {
    server.script({ dialect: "messages", turns: [{ kind: "write", path: "n/p.md", content: "# P\n" }] });
    const side = await post("/v1/messages?beta=true", { ...claudeRequest([]), tools: [] });
    expect(side.events.map(([e]) => e)).toContain("message_stop");
    const r = await post("/v1/messages?beta=true", claudeRequest([]));
    const start = r.events.find(([e]) => e === "content_block_start")?.[1];
    expect(start?.content_block).toMatchObject({ type: "tool_use", name: "Write" });
    const delta = r.events.find(([e]) => e === "content_block_delta")?.[1].delta as { partial_json: string };
    expect(JSON.parse(delta.partial_json)).toEqual({ file_path: "/work/wt/n/p.md", content: "# P\n" });
    expect(r.events.find(([e]) => e === "message_delta")?.[1]).toMatchObject({
      delta: { stop_reason: "tool_use" },
      usage: { output_tokens: 5 },
    });
    expect(server.conversation().map((q) => q.answer)).toEqual(["turn"]);
    expect(server.requests.map((q) => q.answer)).toEqual(["side", "turn"]);
    // A Codex request has no script here: answered with text, reported as a problem.
    await post("/v1/responses", codexRequest([]));
    expect(server.problems).toEqual([expect.stringMatching(/no script for a responses conversation/)]);
  });

  it("answers errors as each API shapes them, `times` times, then goes on", async () => {
    server.script([
      { kind: "error", status: 429, retryAfterSeconds: 2, times: 1 },
      { kind: "text", text: "ok" },
    ]);
    const limited = await post("/v1/messages", claudeRequest([]));
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("2");
    expect(limited.json).toEqual({
      type: "error",
      error: {
        type: "rate_limit_error",
        message: "Number of request tokens has exceeded your per-minute rate limit",
      },
    });
    expect((await post("/v1/messages", claudeRequest([]))).status).toBe(200);
    server.script([{ kind: "error", status: 401 }]);
    for (let i = 0; i < 2; i++) {
      const denied = await post("/v1/responses", codexRequest([]));
      expect(denied.status).toBe(401);
      expect(denied.json).toMatchObject({ error: { code: "invalid_api_key" } });
    }
    // A request past the end of the script is a problem too.
    server.script([{ kind: "text", text: "only" }]);
    await post("/v1/responses", codexRequest([{ type: "message", role: "assistant", content: [] }]));
    expect(server.problems).toEqual([expect.stringMatching(/has no turn 2/)]);
  });

  it("hangs until the server closes, and answers the CLIs' probes", async () => {
    const other = await startModelServer();
    other.script([{ kind: "hang" }]);
    expect((await fetch(other.url, { method: "HEAD" })).status).toBe(200);
    const pending = fetch(`${other.url}/v1/responses`, {
      method: "POST",
      body: JSON.stringify(codexRequest([])),
    });
    const settled = pending.then(
      () => "answered",
      () => "closed",
    );
    // Wait for the request to reach the server (no fixed sleep: a loaded machine is slow).
    for (let i = 0; i < 200 && other.requests.at(-1)?.answer !== "hang"; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(other.requests.at(-1)?.answer).toBe("hang");
    await other.close();
    expect(await settled).toBe("closed");
  });

  it("finds a turn from the history and skips spent error turns", () => {
    const served = new Map<number, number>();
    const script = {
      turns: [
        { kind: "error" as const, status: 429, times: 1 },
        { kind: "text" as const, text: "a" },
        { kind: "hang" as const },
        { kind: "text" as const, text: "b" },
      ],
    };
    expect(resolveTurn(script, 0, served)).toMatchObject({ kind: "error", index: 0 });
    expect(resolveTurn(script, 0, served)).toMatchObject({ kind: "turn", index: 1 });
    expect(resolveTurn(script, 1, served)).toMatchObject({ kind: "hang", index: 2 });
    expect(resolveTurn(script, 2, served)).toEqual({ kind: "end" });
  });
});
