import type { Packet } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import { startsProcesses } from "./worker-sandbox.js";

const packet = (workers: string[], command?: Packet["command"]): Packet =>
  ({ workers: workers.map((id) => ({ id })), ...(command ? { command } : {}) }) as unknown as Packet;
const dry = { backend: "dry-run" } as const;
const codex = { backend: "codex" } as const;

describe("startsProcesses: whether a command that finds no sandbox must refuse", () => {
  it("a command phase starts a process whatever the bindings (none, or every one dry-run)", () => {
    const cmd = packet([], { argv: ["node", "x.mjs"] } as Packet["command"]);
    expect(startsProcesses({ bindings: {} }, [cmd])).toBe(true);
    expect(startsProcesses({ bindings: { "*": dry } }, [packet(["w"]), cmd])).toBe(true);
  });

  it("a worker bound (by id, else *) to any backend but dry-run does; a dry run or an unbound worker does not", () => {
    expect(startsProcesses({ bindings: { "*": dry } }, [packet(["w"])])).toBe(false);
    expect(startsProcesses({ bindings: { w: codex, "*": dry } }, [packet(["w"])])).toBe(true);
    expect(startsProcesses({ bindings: { v: codex, "*": dry } }, [packet(["w"])])).toBe(false);
    expect(startsProcesses({ bindings: { "*": codex } }, [packet(["w"])])).toBe(true);
    expect(startsProcesses({ bindings: {} }, [packet(["w"])])).toBe(false);
    expect(startsProcesses({ bindings: {} }, [])).toBe(false);
  });

  it("a reviewer bound to a live backend does, even over dry-run workers", () => {
    const bindings = { "*": dry, refuter: codex };
    expect(startsProcesses({ bindings }, [packet(["w"])])).toBe(false);
    expect(startsProcesses({ bindings, reviewer: "refuter" }, [packet(["w"])])).toBe(true);
  });
});
