// Stand-ins for the Codex CLI and Claude Code, for fast tests and for failures the real
// tools cannot be made to show. They accept the real non-interactive flags, refuse unknown
// ones the way the real parsers do, and print the real JSON Lines formats
// (../shared/notes/real-agent-clis.md). What they do comes from a scenario: the JSON in
// $DWM_FAKE_CODEX / $DWM_FAKE_CLAUDE / $DWM_FAKE_CLI, or "@<file>" naming a JSON file.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { spawn } = require("node:child_process");

function scenarioFor(tool) {
  const raw = process.env[`DWM_FAKE_${tool.toUpperCase()}`] ?? process.env.DWM_FAKE_CLI ?? "{}";
  const text = raw.startsWith("@") ? fs.readFileSync(raw.slice(1), "utf8") : raw;
  return JSON.parse(text);
}

function out(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function readStdin() {
  try {
    return fs.readFileSync(0, "utf8");
  } catch {
    return "";
  }
}

function usageError(tool, message) {
  if (tool === "codex") {
    process.stderr.write(
      `error: ${message}\n\nUsage: codex exec [OPTIONS] [PROMPT]\n\nFor more information, try '--help'.\n`,
    );
    process.exit(2);
  }
  process.stderr.write(`error: ${message}\n`);
  process.exit(1);
}

function parseCodex(argv) {
  if (argv[0] !== "exec" && argv[0] !== "e") usageError("codex", "this fake only knows `codex exec`");
  const valued = {
    "-s": "sandbox",
    "--sandbox": "sandbox",
    "-m": "model",
    "--model": "model",
    "-c": "config",
    "--config": "config",
    "-o": "lastMessage",
    "--output-last-message": "lastMessage",
    "-C": "cd",
    "--cd": "cd",
    "-p": "profile",
    "--profile": "profile",
    "--color": "color",
    "-i": "image",
    "--image": "image",
  };
  const flags = new Set([
    "--json",
    "--skip-git-repo-check",
    "--full-auto",
    "--dangerously-bypass-approvals-and-sandbox",
    "--oss",
  ]);
  const o = { config: [], json: false, sandbox: "read-only", prompt: null, flags: [] };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    if (valued[a]) {
      const v = argv[++i];
      if (v === undefined) usageError("codex", `a value is required for '${a}' but none was supplied`);
      if (valued[a] === "config") o.config.push(v);
      else o[valued[a]] = v;
    } else if (flags.has(a)) {
      o.flags.push(a);
      if (a === "--json") o.json = true;
      if (a === "--full-auto") o.sandbox = "workspace-write";
      if (a === "--dangerously-bypass-approvals-and-sandbox") o.sandbox = "danger-full-access";
    } else if (a.startsWith("-") && a !== "-") {
      usageError("codex", `unexpected argument '${a}' found`);
    } else if (o.prompt === null) {
      o.prompt = a;
    } else {
      usageError("codex", `unexpected argument '${a}' found`);
    }
  }
  if (!["read-only", "workspace-write", "danger-full-access"].includes(o.sandbox)) {
    usageError("codex", `invalid value '${o.sandbox}' for '--sandbox <SANDBOX_MODE>'`);
  }
  if (o.prompt === null || o.prompt === "-") o.prompt = readStdin();
  o.canWrite = o.sandbox !== "read-only";
  return o;
}

function parseClaude(argv) {
  const valued = {
    "--output-format": "outputFormat",
    "--input-format": "inputFormat",
    "--permission-mode": "permissionMode",
    "--model": "model",
    "--allowedTools": "allowed",
    "--allowed-tools": "allowed",
    "--disallowedTools": "disallowed",
    "--disallowed-tools": "disallowed",
    "--max-turns": "maxTurns",
    "--append-system-prompt": "appendSystemPrompt",
    "--add-dir": "addDir",
    "--session-id": "sessionId",
  };
  const flags = new Set(["-p", "--print", "--verbose", "--dangerously-skip-permissions"]);
  const o = {
    print: false,
    verbose: false,
    outputFormat: "text",
    permissionMode: "default",
    allowed: "",
    disallowed: "",
    prompt: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (valued[a]) {
      const v = argv[++i];
      if (v === undefined) usageError("claude", `option '${a} <value>' argument missing`);
      o[valued[a]] = v;
    } else if (flags.has(a)) {
      if (a === "-p" || a === "--print") o.print = true;
      if (a === "--verbose") o.verbose = true;
      if (a === "--dangerously-skip-permissions") o.permissionMode = "bypassPermissions";
    } else if (a.startsWith("-")) {
      usageError("claude", `unknown option '${a}'`);
    } else if (o.prompt === null) {
      o.prompt = a;
    } else {
      usageError("claude", `too many arguments. Expected 0 arguments but got ${argv.length}.`);
    }
  }
  if (!o.print) usageError("claude", "this fake only knows print mode (-p)");
  if (!["text", "json", "stream-json"].includes(o.outputFormat)) {
    usageError(
      "claude",
      `option '--output-format <format>' argument '${o.outputFormat}' is invalid. Allowed choices are text, json, stream-json.`,
    );
  }
  if (!["default", "acceptEdits", "plan", "bypassPermissions", "dontAsk"].includes(o.permissionMode)) {
    usageError("claude", `option '--permission-mode <mode>' argument '${o.permissionMode}' is invalid.`);
  }
  if (o.outputFormat === "stream-json" && !o.verbose) {
    process.stderr.write("Error: When using --print, --output-format=stream-json requires --verbose\n");
    process.exit(1);
  }
  if (o.prompt === null) o.prompt = readStdin();
  const list = (s) => s.split(/[ ,]+/).filter(Boolean);
  const disallowed = list(o.disallowed);
  o.canWrite =
    (o.permissionMode === "acceptEdits" || o.permissionMode === "bypassPermissions") &&
    !disallowed.includes("Write");
  return o;
}

function record(tool, sc, opts) {
  if (!sc.recordFile) return;
  fs.writeFileSync(
    sc.recordFile,
    JSON.stringify({
      tool,
      argv: process.argv.slice(2),
      stdin: opts.prompt,
      cwd: process.cwd(),
      env_names: Object.keys(process.env).sort(),
    }),
  );
}

function writeFiles(sc, allowed) {
  const done = [];
  for (const w of sc.writes ?? []) {
    if (!allowed && !sc.ignorePermissions) {
      done.push({ path: w.path, ok: false });
      continue;
    }
    const f = path.resolve(process.cwd(), w.path);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, w.content);
    done.push({ path: w.path, ok: true });
  }
  return done;
}

function hang(sc) {
  if (sc.grandchildPidFile) {
    // A grandchild that ignores SIGTERM: only a process-group SIGKILL ends it.
    const gc = spawn(
      "sh",
      ["-c", `trap "" TERM; echo $$ > '${sc.grandchildPidFile}'; while :; do sleep 1; done`],
      {
        stdio: "ignore",
      },
    );
    gc.unref();
  }
  process.on("SIGTERM", () => {});
  setInterval(() => {}, 1000);
}

function echoEnv(sc) {
  for (const n of sc.echoEnv ?? []) {
    process.stdout.write(`${n}=${process.env[n] ?? ""}\n`);
    process.stderr.write(`debug: ${n} is ${process.env[n] ?? ""}\n`);
  }
}

function codex(sc) {
  const o = parseCodex(process.argv.slice(2));
  record("codex", sc, o);
  const mode = sc.mode ?? "succeed";
  const usage = sc.usage ?? {
    input_tokens: 1200,
    cached_input_tokens: 200,
    output_tokens: 300,
    reasoning_output_tokens: 50,
  };
  const emit = o.json ? out : (ev) => process.stdout.write(`[codex] ${ev.type}\n`);
  if (mode === "garbage") {
    process.stdout.write(sc.garbage ?? "\u0000\u00ffnot json at all\nlogin required? 401 maybe\n");
    process.exit(sc.exitCode ?? 0);
  }
  emit({ type: "thread.started", thread_id: "0199a213-81c0-7800-8aa1-bbab2a035a53" });
  emit({ type: "turn.started" });
  echoEnv(sc);
  if (mode === "auth" || mode === "rate-limit") {
    const status = mode === "auth" ? "401 Unauthorized" : "429 Too Many Requests";
    const body =
      mode === "auth"
        ? '{"error":{"message":"Incorrect API key provided"}}'
        : '{"error":{"message":"Rate limit reached"}}';
    for (let n = 1; n <= 5; n++)
      emit({ type: "error", message: `Reconnecting... ${n}/5 (unexpected status ${status}: ${body})` });
    emit({ type: "turn.failed", error: { message: `unexpected status ${status}: ${body}` } });
    process.exit(1);
  }
  if (mode === "hang") return hang(sc);
  if (mode === "crash") {
    process.kill(process.pid, sc.signal ?? "SIGSEGV");
    return;
  }
  let n = 0;
  for (const w of writeFiles(sc, o.canWrite)) {
    const command = `bash -lc 'cat > ${w.path}'`;
    emit({
      type: "item.started",
      item: {
        id: `item_${n}`,
        type: "command_execution",
        command,
        aggregated_output: "",
        exit_code: null,
        status: "in_progress",
      },
    });
    emit({
      type: "item.completed",
      item: {
        id: `item_${n++}`,
        type: "command_execution",
        command,
        aggregated_output: w.ok ? "" : `bash: line 1: ${w.path}: Read-only file system\n`,
        exit_code: w.ok ? 0 : 1,
        status: w.ok ? "completed" : "failed",
      },
    });
  }
  const message = sc.message ?? "Done.";
  emit({ type: "item.completed", item: { id: `item_${n}`, type: "agent_message", text: message } });
  if (mode === "fail") {
    emit({ type: "turn.failed", error: { message: sc.error ?? "the model gave up" } });
    process.exit(sc.exitCode ?? 1);
  }
  emit({ type: "turn.completed", usage });
  if (o.lastMessage) fs.writeFileSync(o.lastMessage, `${message}\n`);
  process.exit(0);
}

function claude(sc) {
  const o = parseClaude(process.argv.slice(2));
  record("claude", sc, o);
  const mode = sc.mode ?? "succeed";
  const session = "8f7e6d5c-4b3a-4291-8807-162534435261";
  const stream = o.outputFormat === "stream-json";
  const emit = stream ? out : () => {};
  if (mode === "garbage") {
    process.stdout.write(sc.garbage ?? "\u0000\u00ffnot json at all\nplease login again (401?)\n");
    process.exit(sc.exitCode ?? 0);
  }
  emit({
    type: "system",
    subtype: "init",
    cwd: process.cwd(),
    session_id: session,
    tools: ["Task", "Bash", "Glob", "Grep", "Read", "Edit", "Write", "WebFetch", "WebSearch"],
    mcp_servers: [],
    model: o.model ?? "claude-sonnet-4-5",
    permissionMode: o.permissionMode,
    apiKeySource: process.env.ANTHROPIC_API_KEY ? "ANTHROPIC_API_KEY" : "none",
    claude_code_version: "2.1.197",
  });
  echoEnv(sc);
  const usage = sc.usage ?? {
    input_tokens: 900,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 100,
    output_tokens: 250,
  };
  const result = (isError, text, subtype = "success") => {
    const doc = {
      type: "result",
      subtype,
      is_error: isError,
      duration_ms: 1234,
      duration_api_ms: 1000,
      num_turns: 1,
      result: text,
      session_id: session,
      total_cost_usd: isError ? 0 : 0.0123,
      usage: isError
        ? { input_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0 }
        : usage,
    };
    if (stream) out(doc);
    else if (o.outputFormat === "json") process.stdout.write(`${JSON.stringify(doc)}\n`);
    else process.stdout.write(`${text}\n`);
  };
  if (mode === "auth") {
    result(true, "Invalid API key · Fix external API key");
    process.exit(1);
  }
  if (mode === "rate-limit") {
    result(
      true,
      'API Error: 429 {"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}',
    );
    process.exit(1);
  }
  if (mode === "auth-retry") {
    // Claude Code retries a 401/403 like any failed request, for minutes by default; its result
    // line comes only after the last retry (seen with 2.1.x: `error: "authentication_failed"`).
    let attempt = 0;
    const retry = () => {
      attempt++;
      emit({
        type: "system",
        subtype: "api_retry",
        attempt,
        max_retries: 10,
        retry_delay_ms: 611.49,
        error_status: sc.status ?? 401,
        error: "authentication_failed",
        session_id: session,
      });
    };
    retry();
    setInterval(retry, sc.retryEveryMs ?? 300);
    return;
  }
  if (mode === "hang") {
    emit({
      type: "system",
      subtype: "api_retry",
      attempt: 1,
      max_retries: 10,
      retry_delay_ms: 600,
      error_status: null,
      error: "Connection error.",
    });
    return hang(sc);
  }
  if (mode === "crash") {
    process.kill(process.pid, sc.signal ?? "SIGSEGV");
    return;
  }
  let n = 0;
  for (const w of writeFiles(sc, o.canWrite)) {
    const id = `toolu_01${String(n++).padStart(4, "0")}`;
    emit({
      type: "assistant",
      message: {
        id: `msg_${id}`,
        type: "message",
        role: "assistant",
        model: o.model ?? "claude-sonnet-4-5",
        content: [
          { type: "tool_use", id, name: "Write", input: { file_path: path.resolve(w.path), content: "…" } },
        ],
        stop_reason: null,
        usage: { input_tokens: 10, output_tokens: 5 },
      },
      parent_tool_use_id: null,
      session_id: session,
    });
    emit({
      type: "user",
      message: {
        role: "user",
        content: [
          w.ok
            ? { tool_use_id: id, type: "tool_result", content: `File created successfully at: ${w.path}` }
            : {
                tool_use_id: id,
                type: "tool_result",
                content: `Claude requested permissions to write to ${w.path}, but you haven't granted it yet.`,
                is_error: true,
              },
        ],
      },
      parent_tool_use_id: null,
      session_id: session,
    });
  }
  const message = sc.message ?? "Done.";
  emit({
    type: "assistant",
    message: {
      id: "msg_final",
      type: "message",
      role: "assistant",
      model: o.model ?? "claude-sonnet-4-5",
      content: [{ type: "text", text: message }],
      stop_reason: null,
      usage: { input_tokens: 10, output_tokens: 5 },
    },
    parent_tool_use_id: null,
    session_id: session,
  });
  if (mode === "fail") {
    result(true, sc.error ?? "Reached maximum number of turns (1)", "error_max_turns");
    process.exit(sc.exitCode ?? 1);
  }
  result(false, message);
  process.exit(0);
}

exports.main = (tool) => {
  const sc = scenarioFor(tool);
  if (tool === "codex") codex(sc);
  else claude(sc);
};
