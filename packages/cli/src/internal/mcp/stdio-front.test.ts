// `dwm mcp`'s handshake front: the answers it gives without the SDK are the SDK server's, byte for
// byte (in process, and from the built bin with the handshake the build computed), and what it
// does not know it leaves to the SDK server, which then answers every request once.
import { spawnSync } from "node:child_process";
import os from "node:os";
import { FakeClock } from "@dwm/test-utils";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import {
  type JSONRPCMessage,
  LATEST_PROTOCOL_VERSION,
  SUPPORTED_PROTOCOL_VERSIONS,
} from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, it } from "vitest";
import { BIN, requireBuiltCli } from "../../test-support/built-cli.js";
import { handshakeStep } from "./handshake.js";
import { createMcpServer, toolList } from "./server.js";

const PREBUILT = {
  toolList: JSON.stringify(toolList()),
  protocolVersions: [...SUPPORTED_PROTOCOL_VERSIONS],
  latestProtocolVersion: LATEST_PROTOCOL_VERSION,
};

const ctx = {
  cwd: os.tmpdir(),
  env: {},
  clock: new FakeClock("2026-01-01T00:00:00.000Z", 1),
  isTTY: false,
  emit: () => {},
};

const initialize = (id: number | string, protocolVersion: string) => ({
  jsonrpc: "2.0",
  id,
  method: "initialize",
  params: { protocolVersion, capabilities: { roots: {} }, clientInfo: { name: "test", version: "1" } },
});
const INITIALIZED = { jsonrpc: "2.0", method: "notifications/initialized" };
const request = (id: number | string, method: string, params?: object) => ({
  jsonrpc: "2.0",
  id,
  method,
  ...(params ? { params } : {}),
});

/** What DWM's SDK server answers to `messages`, each as the stdio transport writes it. */
async function sdkAnswers(messages: object[]): Promise<string[]> {
  const server = createMcpServer(ctx);
  const [client, side] = InMemoryTransport.createLinkedPair();
  const out: string[] = [];
  const expected = messages.filter((m) => "id" in m).length;
  const done = new Promise<void>((resolve) => {
    client.onmessage = (m) => {
      out.push(`${JSON.stringify(m)}\n`);
      if (out.length === expected) resolve();
    };
  });
  await server.connect(side);
  for (const m of messages) await client.send(m as JSONRPCMessage);
  await done;
  await server.close();
  return out;
}

/** The built `dwm mcp`'s stdout for `lines` written at once, split into lines. */
function binAnswers(lines: string[]): string[] {
  requireBuiltCli();
  const r = spawnSync(process.execPath, [BIN, "mcp"], {
    input: lines.join(""),
    encoding: "utf8",
    cwd: os.tmpdir(),
  });
  expect(r.status).toBe(0);
  return r.stdout.split(/(?<=\n)/);
}

const line = (m: object) => `${JSON.stringify(m)}\n`;

describe("the handshake front", () => {
  it("answers initialize, tools/list and ping as the SDK server does, byte for byte", async () => {
    for (const version of ["2025-06-18", "2024-11-05", "1999-01-01"]) {
      const messages = [initialize(1, version), INITIALIZED, request(2, "tools/list"), request("p", "ping")];
      const front = messages.map((m) => handshakeStep(JSON.stringify(m), PREBUILT)?.reply ?? null);
      const sdk = await sdkAnswers(messages);
      expect(front.filter((r) => r !== null)).toEqual(sdk);
      expect(front[1]).toBeNull();
      expect(JSON.parse(sdk[0] as string).result.protocolVersion).toBe(
        version === "1999-01-01" ? LATEST_PROTOCOL_VERSION : version,
      );
    }
  });

  it("leaves to the SDK server what it does not know for certain", () => {
    const unknown = [
      "not json",
      "",
      JSON.stringify([request(1, "ping")]),
      JSON.stringify({ ...request(1, "ping"), extra: 1 }),
      JSON.stringify(request(1, "tools/call", { name: "status" })),
      JSON.stringify(request(1, "tools/list", { cursor: 7 })),
      JSON.stringify(request(1.5, "ping")),
      JSON.stringify({ ...initialize(1, "2025-06-18"), jsonrpc: "1.0" }),
      JSON.stringify({ ...initialize(1, "2025-06-18"), params: { protocolVersion: "2025-06-18" } }),
      JSON.stringify({
        ...initialize(1, "2025-06-18"),
        params: { ...initialize(1, "x").params, capabilities: { roots: true } },
      }),
      JSON.stringify({ ...INITIALIZED, id: 3 }),
    ];
    for (const l of unknown) expect([l, handshakeStep(l, PREBUILT)]).toEqual([l, null]);
  });

  it("the built bin answers the handshake with what the build computed: the SDK server's answers", async () => {
    const messages = [initialize(1, "2025-06-18"), INITIALIZED, request(2, "tools/list"), request(3, "ping")];
    expect(binAnswers(messages.map(line))).toEqual(await sdkAnswers(messages));
  });

  it("hands the rest to the SDK server: every request answered once, an initialize's id used again included", () => {
    const out = binAnswers([
      line(initialize(1, "2025-06-18")),
      line(INITIALIZED),
      line(request(1, "no/such/method")),
      "not json\n",
      line(request(2, "resources/templates/list")),
      line(request(3, "tools/list", { cursor: "x" })),
      line(request(4, "ping")),
    ]).map((l) => JSON.parse(l));
    // In id order (stable: the two answers of id 1 in the order sent); the SDK answers as each is ready.
    out.sort((a, b) => a.id - b.id);
    expect(out.map((m) => [m.id, m.result ? Object.keys(m.result)[0] : m.error.code])).toEqual([
      [1, "protocolVersion"],
      [1, -32601],
      [2, "resourceTemplates"],
      [3, "tools"],
      [4, undefined],
    ]);
  });
});
