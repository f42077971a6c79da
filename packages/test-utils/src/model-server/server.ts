import http from "node:http";
import type { AddressInfo } from "node:net";
import zlib from "node:zlib";
import {
  isSideQuery,
  messagesBlock,
  messagesErrorBody,
  messagesEvents,
  messagesTurnsDone,
  messagesUserText,
  sideAnswer,
} from "./messages.js";
import {
  responsesErrorBody,
  responsesEvents,
  responsesItem,
  responsesTurnsDone,
  responsesUserText,
} from "./responses.js";
import { DEFAULT_USAGE, type ModelScript, resolveTurn, type ScriptTurn } from "./script.js";

/** Which API a request spoke. */
export type ModelDialect = "responses" | "messages" | "other";

/** One request the server received, as the CLI sent it. */
export interface RecordedRequest {
  seq: number;
  /** When the request arrived (Date.now(), ms): to check how long a CLI waited between requests. */
  at: number;
  dialect: ModelDialect;
  method: string;
  /** Path with query (`/v1/responses`, `/v1/messages?beta=true`). */
  url: string;
  /** Lower-case header names. */
  headers: Record<string, string>;
  /** Parsed JSON body (undefined when there was none or it was not JSON). */
  body: unknown;
  /** The user text of the conversation (the task the CLI passed on). */
  userText: string;
  /** Which script answered, or null. */
  script: string | null;
  /** Model turns already in the request's history. */
  turnsDone: number;
  /** How it was answered. */
  answer: "turn" | "error" | "hang" | "side" | "end" | "other";
  /** Script position of the answering turn, or null. */
  turn: number | null;
  /** The scripted turn's kind (`shell`, `write`, ..., `error`), or null. */
  turnKind: ScriptTurn["kind"] | null;
}

/** A scripted model endpoint on 127.0.0.1 for the Codex CLI (Responses API) and Claude Code (Messages API). */
export interface ModelServer {
  /** `http://127.0.0.1:<port>`: Claude Code's ANTHROPIC_BASE_URL. */
  readonly url: string;
  /** `<url>/v1`: a Codex model provider's base_url. */
  readonly openaiBaseUrl: string;
  readonly port: number;
  /** Every request received since the last reset, in order. */
  readonly requests: RecordedRequest[];
  /** Requests the scripts could not answer as written (no matching script, no tool for a turn, ...). */
  readonly problems: string[];
  /** Replace the scripts (and forget requests, problems and error counters). */
  script(...scripts: (ModelScript | ScriptTurn[])[]): void;
  /** Requests of the scripted conversations (side queries and preflights left out). */
  conversation(dialect?: ModelDialect): RecordedRequest[];
  /** Close the server and every open connection (hanging ones included). */
  close(): Promise<void>;
}

export interface ModelServerOptions {
  /** Model name reported in replies when the request names none. */
  model?: string;
}

interface ScriptState {
  script: ModelScript;
  name: string;
  served: Map<number, number>;
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const enc = (req.headers["content-encoding"] ?? "identity").toLowerCase();
  const source: NodeJS.ReadableStream =
    enc === "gzip"
      ? req.pipe(zlib.createGunzip())
      : enc === "deflate"
        ? req.pipe(zlib.createInflate())
        : enc === "br"
          ? req.pipe(zlib.createBrotliDecompress())
          : req;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    source.on("data", (c: Buffer) => chunks.push(c));
    source.on("end", () => resolve(Buffer.concat(chunks)));
    source.on("error", reject);
  });
}

function headersOf(req: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
  }
  return out;
}

function sse(res: http.ServerResponse, events: [string, unknown][]): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  for (const [event, data] of events) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  res.end();
}

function json(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

/**
 * Start a scripted model server on 127.0.0.1 (a random port). Give it scripts with `script()`;
 * point the Codex CLI at `openaiBaseUrl` (a model provider with `wire_api = "responses"`) and
 * Claude Code at `url` (ANTHROPIC_BASE_URL). Close it in the test's teardown.
 */
export async function startModelServer(options: ModelServerOptions = {}): Promise<ModelServer> {
  let states: ScriptState[] = [];
  const requests: RecordedRequest[] = [];
  const problems: string[] = [];
  let seq = 0;
  let ids = 0;
  const nextId = (prefix: string) => `${prefix}_${String(++ids).padStart(6, "0")}`;

  const pick = (userText: string, dialect: ModelDialect): ScriptState | null => {
    const mine = states.filter((s) => s.script.dialect === undefined || s.script.dialect === dialect);
    return (
      mine.find((s) => s.script.when !== undefined && userText.includes(s.script.when)) ??
      mine.find((s) => s.script.when === undefined) ??
      null
    );
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const at = Date.now();
    const raw = await readBody(req);
    const url = req.url ?? "/";
    const pathname = url.split("?")[0] ?? "/";
    let body: unknown;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString("utf8"));
      } catch {
        body = undefined;
      }
    }
    const dialect: ModelDialect =
      req.method === "POST" && pathname.endsWith("/responses")
        ? "responses"
        : req.method === "POST" && pathname.endsWith("/messages")
          ? "messages"
          : "other";
    const userText =
      dialect === "responses"
        ? responsesUserText(body)
        : dialect === "messages"
          ? messagesUserText(body)
          : "";
    const turnsDone =
      dialect === "responses"
        ? responsesTurnsDone(body)
        : dialect === "messages"
          ? messagesTurnsDone(body)
          : 0;
    const record: RecordedRequest = {
      seq: ++seq,
      at,
      dialect,
      method: req.method ?? "GET",
      url,
      headers: headersOf(req),
      body,
      userText,
      script: null,
      turnsDone,
      answer: "other",
      turn: null,
      turnKind: null,
    };
    requests.push(record);

    if (dialect === "other") {
      // Claude Code probes the endpoint (HEAD /) before its first request.
      if (req.method === "HEAD" || req.method === "GET") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(req.method === "GET" ? "{}" : undefined);
        return;
      }
      problems.push(`#${record.seq}: ${req.method} ${url} is neither /v1/responses nor /v1/messages`);
      json(res, 404, { error: { message: `no route ${url}` } });
      return;
    }
    const model =
      body !== null && typeof body === "object" && typeof (body as { model?: unknown }).model === "string"
        ? (body as { model: string }).model
        : (options.model ?? "scripted-model");

    if (dialect === "messages" && isSideQuery(body)) {
      record.answer = "side";
      sse(
        res,
        messagesEvents(
          nextId("msg"),
          model,
          { type: "text", text: sideAnswer(body) },
          {
            input_tokens: 0,
            output_tokens: 0,
          },
        ),
      );
      return;
    }

    const state = pick(userText, dialect);
    if (state === null) {
      problems.push(`#${record.seq}: no script for a ${dialect} conversation (${userText.slice(0, 80)})`);
      record.answer = "end";
      answerText(res, dialect, model, "No script for this conversation.");
      return;
    }
    record.script = state.name;
    const r = resolveTurn(state.script, turnsDone, state.served);
    if (r.kind === "end") {
      problems.push(`#${record.seq}: script ${state.name} has no turn ${turnsDone + 1}`);
      record.answer = "end";
      answerText(res, dialect, model, "The script has ended.");
      return;
    }
    record.turn = r.index;
    if (r.kind === "hang") {
      record.answer = "hang";
      record.turnKind = "hang";
      return; // never answered; close() destroys the connection
    }
    if (r.kind === "error") {
      record.answer = "error";
      record.turnKind = "error";
      const t = r.turn;
      const headers: Record<string, string> =
        t.retryAfterSeconds === undefined ? {} : { "retry-after": String(t.retryAfterSeconds) };
      if (dialect === "messages") headers["request-id"] = nextId("req");
      json(
        res,
        t.status,
        dialect === "responses"
          ? responsesErrorBody(t.status, t.message, t.retryAfterSeconds)
          : messagesErrorBody(t.status, t.message),
        headers,
      );
      return;
    }
    record.answer = "turn";
    record.turnKind = r.turn.kind;
    const u = r.turn.usage ?? DEFAULT_USAGE;
    if (dialect === "responses") {
      const made = responsesItem(r.turn, body, nextId("call"));
      if ("problem" in made) {
        problems.push(`#${record.seq}: script ${state.name} turn ${r.index + 1}: ${made.problem}`);
        answerText(res, dialect, model, made.problem);
        return;
      }
      sse(res, responsesEvents(nextId("resp"), model, made.item, nextId("item"), u));
    } else {
      const made = messagesBlock(r.turn, body, nextId("toolu"));
      if ("problem" in made) {
        problems.push(`#${record.seq}: script ${state.name} turn ${r.index + 1}: ${made.problem}`);
        answerText(res, dialect, model, made.problem);
        return;
      }
      sse(res, messagesEvents(nextId("msg"), model, made.block, u));
    }
  };

  const answerText = (res: http.ServerResponse, dialect: ModelDialect, model: string, text: string) => {
    const zero = { input_tokens: 0, output_tokens: 0 };
    if (dialect === "responses") {
      sse(
        res,
        responsesEvents(
          nextId("resp"),
          model,
          { type: "message", role: "assistant", content: [{ type: "output_text", text, annotations: [] }] },
          nextId("item"),
          zero,
        ),
      );
    } else sse(res, messagesEvents(nextId("msg"), model, { type: "text", text }, zero));
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      problems.push(`server error: ${e instanceof Error ? e.message : String(e)}`);
      if (!res.headersSent) json(res, 500, { error: { message: "scripted server failed" } });
      else res.end();
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    openaiBaseUrl: `${url}/v1`,
    port,
    requests,
    problems,
    script(...scripts) {
      states = scripts.map((s) => {
        const script: ModelScript = Array.isArray(s) ? { turns: s } : s;
        return {
          script,
          name: script.name ?? script.when ?? script.dialect ?? "default",
          served: new Map(),
        };
      });
      requests.length = 0;
      problems.length = 0;
    },
    conversation(dialect) {
      return requests.filter(
        (r) =>
          r.dialect !== "other" && r.answer !== "side" && (dialect === undefined || r.dialect === dialect),
      );
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
