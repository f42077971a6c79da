// One list of covered versions: COVERED_AGENT_CLI_VERSIONS (@dwm/executor, read by `dwm doctor`)
// must be exactly what tools/agent-clis pins and locks (what CI installs and these tests run).
import fs from "node:fs";
import path from "node:path";
import { COVERED_AGENT_CLI_VERSIONS } from "@dwm/executor";
import { describe, expect, it } from "vitest";
import { AGENT_CLIS_DIR } from "./harness.js";

const read = (f: string) => JSON.parse(fs.readFileSync(path.join(AGENT_CLIS_DIR, f), "utf8"));

describe("pinned agent CLIs", () => {
  it("tools/agent-clis pins and locks exactly the covered versions", () => {
    const pkg = read("package.json") as { dependencies: Record<string, string> };
    const expected = {
      "@anthropic-ai/claude-code": COVERED_AGENT_CLI_VERSIONS.claude,
      "@openai/codex": COVERED_AGENT_CLI_VERSIONS.codex,
    };
    expect(pkg.dependencies).toEqual(expected);
    const lock = read("package-lock.json") as { packages: Record<string, { version?: string }> };
    for (const [name, version] of Object.entries(expected)) {
      expect(lock.packages[`node_modules/${name}`]?.version).toBe(version);
    }
  });
});
