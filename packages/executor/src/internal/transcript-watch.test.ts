import fs from "node:fs";
import path from "node:path";
import { makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { claudeDecisive, parseClaude } from "./backends/claude.js";
import { codexDecisive } from "./backends/codex.js";
import { classifyInvocation } from "./classify.js";
import { watchTranscript } from "./transcript-watch.js";

let dir: TempDir;
beforeEach(() => {
  dir = makeTempDir("dwm-watch-");
});
afterEach(() => dir.cleanup());

const retry = (status: number | null, attempt = 1) =>
  JSON.stringify({
    type: "system",
    subtype: "api_retry",
    attempt,
    max_retries: 10,
    retry_delay_ms: 611.49,
    error_status: status,
    error: "authentication_failed",
  });
const ok = '{"type":"result","subtype":"success","is_error":false,"result":"done"}';

describe("decisive events", () => {
  it("claude: a retried 401 or 403, or a result refusing the credentials; nothing else", () => {
    expect(claudeDecisive(JSON.parse(retry(401, 3)))).toBe(
      "API Error: 401 from the model endpoint (Claude Code retry 3 of 10): authentication_failed",
    );
    expect(claudeDecisive(JSON.parse(retry(403)))).toMatch(/^API Error: 403 /);
    for (const s of [null, 429, 500, 529]) expect(claudeDecisive(JSON.parse(retry(s)))).toBeNull();
    expect(
      claudeDecisive({ type: "result", is_error: true, api_error_status: 401, result: "Invalid API key" }),
    ).toBe("Invalid API key");
    expect(claudeDecisive({ type: "result", is_error: true, api_error_status: 500, result: "x" })).toBeNull();
    expect(claudeDecisive(JSON.parse(ok))).toBeNull();
  });

  it("codex: an error event about a 401 or 403; a 429 or any other message is not", () => {
    expect(
      codexDecisive({
        type: "error",
        message: "Reconnecting... 1/5 (unexpected status 401 Unauthorized: x)",
      }),
    ).toBe("Reconnecting... 1/5 (unexpected status 401 Unauthorized: x)");
    expect(codexDecisive({ type: "error", message: "unexpected status 429 Too Many Requests" })).toBeNull();
    expect(codexDecisive({ type: "item.completed", item: { text: "401 Unauthorized" } })).toBeNull();
  });

  it("parseClaude: retried 401s are the auth failure when no result came; a later success clears them", () => {
    expect(parseClaude(`${retry(401)}\n${retry(401, 2)}\n`).authError).toBe(
      "API Error: 401 from the model endpoint (Claude Code retry 2 of 10): authentication_failed",
    );
    expect(parseClaude(`${retry(401)}\n${ok}\n`).authError).toBeNull();
  });

  it("classifyInvocation: a process DWM stopped for a decisive event is auth-failed, not the abort's timeout", () => {
    const aborted = { spawnError: null, timedOut: true, signal: "SIGTERM", exitCode: null };
    expect(classifyInvocation("claude", aborted, null, "API Error: 401")).toEqual({
      outcome: "auth-failed",
      detail: "API Error: 401",
    });
    expect(classifyInvocation("claude", aborted, null).outcome).toBe("timeout");
  });
});

describe("watchTranscript", () => {
  it("reads a growing file line by line (a line split across writes too) and aborts at the first decisive event", async () => {
    const file = path.join(dir.path, "stdout");
    const w = watchTranscript(file, claudeDecisive, 20);
    const wait = () => new Promise((r) => setTimeout(r, 80));
    await wait(); // no file yet
    fs.writeFileSync(file, `{"type":"system","subtype":"init"}\n${retry(null)}\n`);
    await wait();
    expect(w.signal?.aborted).toBe(false);
    const line = retry(401);
    fs.appendFileSync(file, line.slice(0, 30));
    await wait();
    expect(w.signal?.aborted).toBe(false);
    fs.appendFileSync(file, `${line.slice(30)}\nnot json\n${retry(401, 2)}\n`);
    await wait();
    expect(w.signal?.aborted).toBe(true);
    expect(w.stop()).toBe(
      "API Error: 401 from the model endpoint (Claude Code retry 1 of 10): authentication_failed",
    );
  });

  it("no decisive reader, no watch; stopping before anything decisive says nothing", async () => {
    const file = path.join(dir.path, "stdout");
    expect(watchTranscript(file, undefined).signal).toBeUndefined();
    const w = watchTranscript(file, claudeDecisive, 20);
    fs.writeFileSync(file, `${ok}\n`);
    await new Promise((r) => setTimeout(r, 80));
    expect(w.stop()).toBeNull();
    expect(w.signal?.aborted).toBe(false);
  });
});
