import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { leftOut, missingPartMessage, requirePart, skippedParts, TEST_PARTS } from "./test-parts.js";

const setupScript = fileURLToPath(new URL("../../../scripts/ci-setup.sh", import.meta.url));

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("test parts", () => {
  it("are the parts scripts/ci-setup.sh knows, in the same order", () => {
    const line = /^PARTS=\(([^)]*)\)$/m.exec(fs.readFileSync(setupScript, "utf8"));
    expect(line?.[1]?.split(" ")).toEqual(Object.keys(TEST_PARTS));
  });

  it("DWM_TEST_SKIP lists the parts left out, split on commas or spaces", () => {
    vi.stubEnv("DWM_TEST_SKIP", "agent-clis, chromium");
    expect([...skippedParts()]).toEqual(["agent-clis", "chromium"]);
    expect(leftOut("chromium")).toBe(true);
    expect(leftOut("redis-server")).toBe(false);
    vi.stubEnv("DWM_TEST_SKIP", "");
    expect(skippedParts().size).toBe(0);
  });

  it("an unknown name in DWM_TEST_SKIP is an error naming the parts, not a silent no-op", () => {
    vi.stubEnv("DWM_TEST_SKIP", "redis");
    expect(() => leftOut("redis-server")).toThrow(
      'DWM_TEST_SKIP names an unknown part "redis"; the parts are redis-server, openssl, bubblewrap, chromium, zsh, fish, iproute2, util-linux, agent-clis, reference-plans',
    );
  });

  it("the missing-part message names the part, what needs it, the install command and the way to leave it out", () => {
    expect(missingPartMessage("redis-server")).toBe(
      "Missing redis-server (Debian package redis-server), needed by the scale-out tests (BullMQ queue, dwm run --queue, dwm worker). " +
        "Install: `apt-get install -y redis-server` (`bash scripts/ci-setup.sh` does, and `pnpm test` runs it first); " +
        "or leave these tests out: DWM_TEST_SKIP=redis-server.",
    );
  });

  it("requirePart throws that message when the part is missing", () => {
    vi.stubEnv("DWM_REFERENCE_PLANS", "/nonexistent/reference-plans");
    expect(() => requirePart("reference-plans")).toThrow(
      "Missing the reference plans, looked for in ../shared/reference-plans beside the checkout (DWM_REFERENCE_PLANS=/nonexistent/reference-plans is not a folder), needed by",
    );
    vi.stubEnv("PATH", "/nonexistent");
    expect(() => requirePart("openssl")).toThrow(
      "Missing openssl (Debian package openssl), needed by the TLS scale-out test",
    );
  });
});
