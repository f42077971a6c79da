import { WORKER_BINDINGS_FILE } from "@dwm/executor";
import { describe, expect, it } from "vitest";
import { VIEW_BINDINGS_FILE } from "./prices.js";

describe("viewBindings", () => {
  it("looks for the bindings file the executor reads, by the same name", () => {
    expect(VIEW_BINDINGS_FILE).toBe(WORKER_BINDINGS_FILE);
  });
});
