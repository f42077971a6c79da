import fs from "node:fs";
import path from "node:path";
import { digest } from "@dwm/core";
import { git, makeGitRepo, makeTempDir } from "@dwm/test-utils";
import { describe, expect, it } from "vitest";
import { loadWorkerBindings, parseWorkerBindings, resolveBinding } from "./bindings.js";
import { gatewayEnv, planInvocation } from "./internal/backends.js";
import { isVerificationCommand, planChecks } from "./internal/checks.js";
import { Redactor } from "./internal/env.js";
import { serializePerRepo } from "./internal/git.js";
import { looksLikePath, ownershipRule } from "./internal/ownership.js";
import { parseClaude, parseCodex, sumTokens } from "./internal/transcripts.js";
import { attemptRef, integrationBranch, qualifiedRef } from "./refs.js";
import { isInfraOutcome } from "./run-attempt.js";
import { bindingsOf, packet, worker } from "./test-support/builders.js";

describe("ownership", () => {
  it("treats an entry as a path only when it looks like one", () => {
    expect(["src/", "README.md", "docs/**", "*.ts", "scripts/dwm.py", "out/"].map(looksLikePath)).toEqual([
      true,
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(
      ["surface discovery", "inventory", "V2.5 spec", "review-ledger.json with findings", ""].map(
        looksLikePath,
      ),
    ).toEqual([false, false, false, false, false]);
  });

  it("matches directories, globs and exact files", () => {
    const r = ownershipRule(["src/", "packages/core", "docs/*.md", "README.md", "named area"]);
    expect(r.prose).toEqual(["named area"]);
    expect(
      ["src/a/b.ts", "packages/core/x.ts", "docs/a.md", "README.md", "src/.hidden"].map(r.allows),
    ).toEqual([true, true, true, true, true]);
    expect(["packages/core2/x.ts", "docs/sub/a.md", "README.md.bak", "other.txt"].map(r.allows)).toEqual([
      false,
      false,
      false,
      false,
    ]);
  });
});

describe("verification commands", () => {
  it("tells commands from paths and prose", () => {
    expect(
      [
        "python scripts/dwm.py status --run out/v9 --json",
        "scripts/ingest_worker_review.py --self-test",
        "./check.sh",
        "pnpm test",
        "make",
        "node -e 0",
      ].map(isVerificationCommand),
    ).toEqual([true, true, true, true, true, true]);
    expect(
      [
        "inventory.json",
        "docs/v3.1-dogfood-report.md",
        "source review of scripts/dwm.py",
        "git",
        "scripts/x.py",
        "python",
      ].map(isVerificationCommand),
    ).toEqual([false, false, false, false, false, false]);
  });

  it("plans validation commands first, then unique verification commands", () => {
    const p = packet({
      outputs: [
        { artifact: "a.json", validation_command: "python -m json.tool a.json" },
        { artifact: "b.md" },
      ],
      verification: [
        {
          claim_or_output: "c1",
          falsifier: "f",
          evidence_required: ["python -m json.tool a.json", "pnpm test"],
        },
        { claim_or_output: "c2", falsifier: "f", evidence_required: ["pnpm test", "b.md"] },
      ],
    });
    expect(planChecks(p)).toEqual([
      { id: "validation-1", kind: "validation", source: "a.json", command: "python -m json.tool a.json" },
      { id: "verification-1", kind: "verification", source: "c1", command: "pnpm test" },
    ]);
  });
});

describe("Redactor", () => {
  it("replaces secret-looking values (longest first), binary-safe, and ignores other names and short values", () => {
    const r = new Redactor();
    r.add({ API_KEY: "abcd1234", LONGER_TOKEN: "abcd1234-extra", HOME: "/home/me", SHORT_SECRET: "abc" });
    const out = r.redact(
      Buffer.concat([Buffer.from("x abcd1234-extra y abcd1234 /home/me abc "), Buffer.from([0, 255])]),
    );
    expect(out.data.subarray(0, -2).toString()).toBe(
      "x [REDACTED:LONGER_TOKEN] y [REDACTED:API_KEY] /home/me abc ",
    );
    expect([...out.data.subarray(-2)]).toEqual([0, 255]);
    expect(out.hits).toEqual(["API_KEY", "LONGER_TOKEN"]);
  });
});

describe("transcript parsing", () => {
  it("sums codex usage over turns and reads auth failures only from error events", () => {
    const ok = [
      '{"type":"turn.completed","usage":{"input_tokens":10,"cached_input_tokens":2,"output_tokens":5}}',
      '{"type":"turn.completed","usage":{"input_tokens":1,"output_tokens":1,"reasoning_output_tokens":3}}',
      "not json",
    ].join("\n");
    const t = parseCodex(ok);
    expect(t.tokens).toEqual({
      input_tokens: 11,
      cached_input_tokens: 2,
      output_tokens: 6,
      reasoning_output_tokens: 3,
      total_tokens: 17,
    });
    expect(t.otherLines).toBe(1);
    expect(
      parseCodex('{"type":"item.completed","item":{"type":"agent_message","text":"401 Unauthorized login"}}')
        .authError,
    ).toBeNull();
    expect(
      parseCodex('{"type":"turn.failed","error":{"message":"unexpected status 401 Unauthorized: nope"}}')
        .authError,
    ).toBe("unexpected status 401 Unauthorized: nope");
  });

  it("reads claude's result line", () => {
    const t = parseClaude(
      '{"type":"result","subtype":"success","is_error":true,"result":"API Error: 401 {\\"type\\":\\"error\\",\\"error\\":{\\"type\\":\\"authentication_error\\"}}","usage":{"input_tokens":0,"output_tokens":0}}',
    );
    expect(t.authError).toMatch(/^API Error: 401/);
    expect(
      parseClaude('{"type":"assistant","message":{"content":[{"type":"text","text":"Invalid API key"}]}}')
        .authError,
    ).toBeNull();
    expect(sumTokens([null, { input_tokens: 1, cost_usd: 0.1 }, { input_tokens: 2, cost_usd: 0.2 }])).toEqual(
      {
        input_tokens: 3,
        cost_usd: 0.3,
      },
    );
    expect(sumTokens([null])).toBeNull();
  });

  it("reads claude 2.1.197's api_error_status and the retry delay of its 429 retries", () => {
    const retry =
      '{"type":"system","subtype":"api_retry","attempt":1,"max_retries":1,"retry_delay_ms":1000,"error_status":429,"error":"rate_limit"}';
    const result = (status: number, text: string) =>
      `{"type":"result","subtype":"success","is_error":true,"api_error_status":${status},"result":${JSON.stringify(text)}}`;
    const limited = parseClaude(
      `${retry}\n${result(429, "API Error: Request rejected (429) · Number of request tokens has exceeded your per-minute rate limit")}`,
    );
    expect(limited.rateLimit).toMatch(/Request rejected \(429\)/);
    expect(limited.authError).toBeNull();
    expect(limited.retryAfterMs).toBe(1000);
    expect(parseClaude(result(401, "Invalid API key · Fix external API key")).authError).toMatch(
      /^Invalid API key/,
    );
    // A server error is neither; its retries advertise nothing.
    const failed = parseClaude(
      `${retry.replace("429", "500")}\n${result(500, "API Error: 500 Internal server error")}`,
    );
    expect([failed.authError, failed.rateLimit, failed.retryAfterMs]).toEqual([null, null, null]);
    expect(failed.resultError).toMatch(/500/);
  });
});

describe("gateway options (base_url, api_key_env)", () => {
  const paths = {
    worktree: "/wt",
    promptFile: "/a/prompt.md",
    outputDir: "/a/out",
    lastMessageFile: "/a/last.md",
    ioDir: "/a",
  };
  const perms = { write: true, shell: true, network: false };

  it("codex: a model provider with the base_url, the Responses API and the key variable", () => {
    const plan = planInvocation(
      { backend: "codex", base_url: "http://127.0.0.1:9/v1", api_key_env: "GW_KEY", model: "m" },
      perms,
      paths,
    );
    expect(plan.argv.slice(6, 20)).toEqual([
      "--model",
      "m",
      "--config",
      'model_provider="dwm-gateway"',
      "--config",
      'model_providers.dwm-gateway.name="dwm-gateway"',
      "--config",
      'model_providers.dwm-gateway.base_url="http://127.0.0.1:9/v1"',
      "--config",
      'model_providers.dwm-gateway.wire_api="responses"',
      "--config",
      'model_providers.dwm-gateway.env_key="GW_KEY"',
      "--output-last-message",
      "/a/last.md",
    ]);
    expect(gatewayEnv({ backend: "codex", api_key_env: "GW_KEY" }, { GW_KEY: "k" })).toEqual({
      names: ["GW_KEY"],
      literal: {},
    });
  });

  it("claude: ANTHROPIC_BASE_URL from base_url, ANTHROPIC_API_KEY from the api_key_env variable", () => {
    expect(
      gatewayEnv(
        { backend: "claude", base_url: "http://127.0.0.1:9", api_key_env: "GW_KEY" },
        { GW_KEY: "sk-gw", ANTHROPIC_API_KEY: "other" },
      ),
    ).toEqual({
      names: [],
      literal: { ANTHROPIC_BASE_URL: "http://127.0.0.1:9", ANTHROPIC_API_KEY: "sk-gw" },
    });
    expect(planInvocation({ backend: "claude", base_url: "http://x" }, perms, paths).argv).not.toContain(
      "http://x",
    );
    expect(() =>
      parseWorkerBindings(bindingsOf({ x: { backend: "shell", argv: ["a"], base_url: "http://x" } })),
    ).toThrow(expect.objectContaining({ code: "ERR_EXEC_BACKEND_UNAVAILABLE" }));
  });

  it("a key variable with an innocent name is still redacted", () => {
    const r = new Redactor();
    r.add({ GW_PASS_VALUE: "value-1234" }, ["GW_PASS_VALUE"]);
    expect(r.redactText("x value-1234 y")).toBe("x [REDACTED:GW_PASS_VALUE] y");
  });
});

describe("bindings", () => {
  it("validates a bindings file, records its digest and resolves a worker id over *", () => {
    const dir = makeTempDir();
    const doc = bindingsOf({ special: { backend: "claude" }, "*": { backend: "codex", model: "gpt-5" } });
    const file = path.join(dir.path, "dwm.workers.json");
    fs.writeFileSync(file, JSON.stringify(doc));
    const loaded = loadWorkerBindings(file);
    expect(loaded.digest).toBe(digest(doc));
    const p = packet({ workers: [worker("special"), worker("other")] });
    expect(resolveBinding(loaded.bindings, loaded.digest, p)).toEqual({
      bindings_digest: digest(doc),
      workers: { special: { backend: "claude" }, other: { backend: "codex", model: "gpt-5" } },
    });
    expect(() => resolveBinding(bindingsOf({ special: { backend: "claude" } }), loaded.digest, p)).toThrow(
      expect.objectContaining({ code: "ERR_EXEC_NO_BINDING" }),
    );
    fs.writeFileSync(file, "{not json");
    expect(() => loadWorkerBindings(file)).toThrow(
      expect.objectContaining({ code: "ERR_EXEC_BINDINGS_INVALID" }),
    );
    expect(() =>
      parseWorkerBindings({
        kind: "worker-bindings",
        schema_version: "1",
        bindings: { x: { backend: "nope" } },
      }),
    ).toThrow(expect.objectContaining({ code: "ERR_EXEC_BINDINGS_INVALID" }));
    expect(() => parseWorkerBindings(bindingsOf({ x: { backend: "shell" } }))).toThrow(
      expect.objectContaining({ code: "ERR_EXEC_BACKEND_UNAVAILABLE" }),
    );
    dir.cleanup();
  });
});

describe("git", () => {
  it("makes a valid ref name under refs/dwm/<run>/ from any slug", () => {
    expect(attemptRef("plan-0123", "fan/item-a..b.lock", 3)).toBe(
      "refs/dwm/plan-0123/attempts/fan/item-a.b-lock/3",
    );
    const repo = makeGitRepo();
    for (const ref of [
      attemptRef("r.", "p..q/x.lock", 1),
      attemptRef("r.", "p", "exec-2"),
      attemptRef("r", "p", 1, "0f".repeat(16)),
      `refs/heads/${integrationBranch("r..x.lock")}`,
    ])
      expect(git(repo.path, "check-ref-format", "--normalize", ref)).toBe(ref);
    expect(attemptRef("r.", "p..q/x.lock", 1)).toBe("refs/dwm/r-/attempts/p.q/x-lock/1");
    expect(attemptRef("r", "p", 1, "0f".repeat(16))).toBe(`refs/dwm/r/attempts/${"0f".repeat(16)}/p/1`);
    expect(integrationBranch("r..x.lock")).toBe("dwm/r.x-lock/integration");
    repo.cleanup();
  });

  it("an attempt's ref as recorded: refs/… as it is, a bare name (earlier versions) a branch", () => {
    expect(qualifiedRef("refs/dwm/r/attempts/p/1")).toBe("refs/dwm/r/attempts/p/1");
    expect(qualifiedRef("dwm/r/p/1")).toBe("refs/heads/dwm/r/p/1");
  });

  it("serializes admin operations per repository", async () => {
    const order: string[] = [];
    const op = (name: string, ms: number) => async () => {
      order.push(`start ${name}`);
      await new Promise((r) => setTimeout(r, ms));
      order.push(`end ${name}`);
    };
    await Promise.all([serializePerRepo("/tmp/x", op("a", 20)), serializePerRepo("/tmp/x", op("b", 1))]);
    expect(order).toEqual(["start a", "end a", "start b", "end b"]);
  });
});

it("infra outcomes are never a verdict on the work", () => {
  expect(
    (
      ["ok", "task-failed", "timeout", "crashed", "auth-failed", "backend-missing", "rate-limited"] as const
    ).filter(isInfraOutcome),
  ).toEqual(["timeout", "crashed", "auth-failed", "backend-missing", "rate-limited"]);
});
