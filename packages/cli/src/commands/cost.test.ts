// Cost from the bindings file's price table, on a real run of examples/agent-pair with the fake
// Claude Code and Codex CLIs reporting token use: per attempt (show), per packet and run
// (status, report), in text and --json; without a price, tokens are counted and the cost is unknown.
import { pathWithFakeClis } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { type Cleanups, dwm, exampleRepo, runIdOf } from "../test-support/starter.js";

const cleanups: Cleanups = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const ENV = {
  PATH: pathWithFakeClis(process.env.PATH),
  DWM_FAKE_CLAUDE: JSON.stringify({
    writes: [{ path: "notes/plan.md", content: "# Plan\n\n## Steps\n\n1. Add an excited option.\n" }],
    usage: { input_tokens: 120, output_tokens: 30 },
  }),
  DWM_FAKE_CODEX: JSON.stringify({
    writes: [
      {
        path: "src/greet.js",
        content: 'export function greet(name) {\n  return "Hello, " + name + "!";\n}\n',
      },
      { path: "notes/change-summary.md", content: "# Summary\n\n## Changed\n\n- src/greet.js\n" },
    ],
    usage: { input_tokens: 2000, cached_input_tokens: 1000, output_tokens: 500 },
  }),
};

const PRICES = [
  { backend: "claude", input_usd_per_mtok: 3, output_usd_per_mtok: 15 },
  { backend: "codex", input_usd_per_mtok: 99, output_usd_per_mtok: 99 },
  {
    backend: "codex",
    model: "gpt-5",
    input_usd_per_mtok: 1.25,
    cached_input_usd_per_mtok: 0.125,
    output_usd_per_mtok: 10,
  },
];

/** agent-pair run to its human gate, with these prices (and the implementer on model gpt-5). */
async function ranAgentPair(prices: unknown[] | null): Promise<{ repo: string; id: string }> {
  const repo = exampleRepo("agent-pair", cleanups, (b) => {
    const bindings = b.bindings as Record<string, Record<string, unknown>>;
    (bindings.implementer as Record<string, unknown>).model = "gpt-5";
    if (prices) b.prices = prices;
  });
  const r = await dwm(repo, ["run", "workflow.plan.json"], cleanups, { env: ENV });
  expect(r.code, r.stdout + r.stderr).toBe(4);
  return { repo, id: runIdOf(repo) };
}

describe("cost", () => {
  it("prices each attempt by backend and model (codex counts cached input inside input), sums per packet and run", async () => {
    const { repo, id } = await ranAgentPair(PRICES);
    // claude: 120 in × $3 + 30 out × $15 per million = $0.00081
    // codex gpt-5: (2000 − 1000 cached) × $1.25 + 1000 × $0.125 + 500 × $10 per million = $0.006375
    const show = JSON.parse((await dwm(repo, ["show", id, "implement", "--json"], cleanups)).stdout);
    expect(show.attempts[0].cost).toEqual({ usd: 0.006375, source: "price-table", models: ["codex/gpt-5"] });
    expect(show.cost).toMatchObject({
      attempts: 1,
      input_tokens: 2000,
      output_tokens: 500,
      usd: 0.006375,
      priced: 1,
    });
    const plan = JSON.parse((await dwm(repo, ["show", id, "plan", "--json"], cleanups)).stdout);
    expect(plan.attempts[0].cost).toEqual({ usd: 0.00081, source: "price-table", models: ["claude/*"] });

    const status = JSON.parse((await dwm(repo, ["status", "--json"], cleanups)).stdout);
    expect(status.cost).toEqual({
      attempts: 3,
      input_tokens: 2120,
      output_tokens: 530,
      total_tokens: 2650,
      usd: 0.007185,
      priced: 2,
      unpriced: 0,
    });
    const rows = Object.fromEntries(
      status.packets.map((p: { packet_id: string; cost_usd: number | null }) => [p.packet_id, p.cost_usd]),
    );
    expect(rows).toEqual({ plan: 0.00081, implement: 0.006375, human_gate: null });
    expect((await dwm(repo, ["status"], cleanups)).stdout).toContain(
      "cost: 2650 tokens over 3 attempt(s), $0.0072",
    );
    expect((await dwm(repo, ["show", id, "implement"], cleanups)).stdout).toContain("2500 tokens, $0.0064");

    const report = JSON.parse((await dwm(repo, ["report", "--json"], cleanups)).stdout);
    expect(report.cost.usd).toBe(0.007185);
  }, 180_000);

  it("without a price: Claude Code's own reported cost, else tokens counted and the cost said to be unknown", async () => {
    const { repo, id } = await ranAgentPair(null);
    // The fake Claude Code reports total_cost_usd 0.0123 in its result line; Codex reports none.
    const plan = JSON.parse((await dwm(repo, ["show", id, "plan", "--json"], cleanups)).stdout);
    expect(plan.attempts[0].cost).toEqual({ usd: 0.0123, source: "reported", models: [] });
    const status = JSON.parse((await dwm(repo, ["status", "--json"], cleanups)).stdout);
    expect(status.cost).toMatchObject({ total_tokens: 2650, usd: 0.0123, priced: 1, unpriced: 1 });
    expect((await dwm(repo, ["status"], cleanups)).stdout).toContain(
      "cost: 2650 tokens over 3 attempt(s), $0.0123 (1 attempt(s) used tokens without a price in dwm.workers.json)",
    );
  }, 180_000);
});
