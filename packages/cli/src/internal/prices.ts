import fs from "node:fs";
import path from "node:path";
import { isDwmError } from "@dwm/core";
import type {
  Attempt,
  AttemptCost,
  CostSummary,
  TokenPrice,
  TokenUsage,
  WorkerBinding,
  WorkerBindings,
} from "@dwm/schemas";

/** The executor's WORKER_BINDINGS_FILE, known here without loading the executor (prices.test.ts checks they agree). */
export const VIEW_BINDINGS_FILE = "dwm.workers.json";

/**
 * The bindings file of a read-only view: `--workers FILE` (an error when it cannot be read),
 * else dwm.workers.json at the repository root; null when there is none or it is broken (a
 * view still shows the run; `dwm run` reports the broken file). The executor, which reads it,
 * loads only when there is one: `dwm status` starts without it.
 */
export async function viewBindings(
  workers: string | undefined,
  cwd: string,
  root: string,
): Promise<WorkerBindings | null> {
  const file = workers !== undefined ? path.resolve(cwd, workers) : path.join(root, VIEW_BINDINGS_FILE);
  if (workers === undefined && !fs.existsSync(file)) return null;
  const { loadWorkerBindings } = await import("@dwm/executor");
  if (workers !== undefined) return loadWorkerBindings(file).bindings;
  try {
    return loadWorkerBindings(file).bindings;
  } catch (e) {
    if (isDwmError(e)) return null;
    throw e;
  }
}

/** The binding a worker runs with: its own, else `*`. */
export function bindingOf(bindings: WorkerBindings | null, workerId: string): WorkerBinding | null {
  if (!bindings) return null;
  return bindings.bindings[workerId] ?? bindings.bindings["*"] ?? null;
}

/** The price of a backend's model: the entry naming the model, else the backend's entry without a model. */
export function priceOf(
  prices: readonly TokenPrice[],
  backend: string,
  model: string | null,
): TokenPrice | undefined {
  const own = model === null ? undefined : prices.find((p) => p.backend === backend && p.model === model);
  return own ?? prices.find((p) => p.backend === backend && p.model === undefined);
}

/**
 * USD of one invocation's tokens. Codex counts cached input inside input_tokens (the OpenAI
 * usage shape); Claude Code reports cache reads apart from input_tokens. Output tokens include
 * reasoning tokens in both.
 */
export function tokensCost(price: TokenPrice, backend: string, t: TokenUsage): number {
  const cached = t.cached_input_tokens ?? 0;
  const input = t.input_tokens ?? 0;
  const uncached = backend === "codex" ? Math.max(0, input - cached) : input;
  const cachedPrice = price.cached_input_usd_per_mtok ?? price.input_usd_per_mtok;
  const usd =
    (uncached * price.input_usd_per_mtok +
      cached * cachedPrice +
      (t.output_tokens ?? 0) * price.output_usd_per_mtok) /
    1e6;
  return roundUsd(usd);
}

/** Cents are too coarse for one small attempt; a millionth of a dollar is below any price's precision. */
export function roundUsd(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}

function usedTokens(t: TokenUsage | null | undefined): boolean {
  return !!t && ((t.total_tokens ?? 0) > 0 || (t.input_tokens ?? 0) > 0 || (t.output_tokens ?? 0) > 0);
}

/**
 * The cost of an attempt: every invocation that used tokens priced from the table (by its
 * worker's binding model), else the cost the agent CLI reported, else none.
 */
export function attemptCost(attempt: Attempt, bindings: WorkerBindings | null): AttemptCost {
  const prices = bindings?.prices ?? [];
  const used = attempt.invocations.filter((i) => usedTokens(i.tokens));
  const priced = used.map((i) => {
    const model = bindingOf(bindings, i.worker_id)?.model ?? null;
    const price = priceOf(prices, i.backend, model);
    return price && i.tokens
      ? { usd: tokensCost(price, i.backend, i.tokens), label: `${i.backend}/${model ?? "*"}` }
      : null;
  });
  if (used.length > 0 && priced.every((p) => p !== null)) {
    const list = priced as { usd: number; label: string }[];
    return {
      usd: roundUsd(list.reduce((s, p) => s + p.usd, 0)),
      source: "price-table",
      models: [...new Set(list.map((p) => p.label))],
    };
  }
  const reported = attempt.tokens?.cost_usd;
  if (typeof reported === "number") return { usd: reported, source: "reported", models: [] };
  return { usd: null, source: null, models: [] };
}

/** Input, output and total tokens of an attempt (0 when it reported none). */
export function tokenCounts(t: TokenUsage | null | undefined): {
  input: number;
  output: number;
  total: number;
} {
  const input = t?.input_tokens ?? 0;
  const output = t?.output_tokens ?? 0;
  return { input, output, total: t?.total_tokens ?? input + output };
}

/** Sum attempts' tokens and costs. */
export function sumCost(list: readonly { tokens: TokenUsage | null; cost: AttemptCost }[]): CostSummary {
  const out: CostSummary = {
    attempts: list.length,
    input_tokens: 0,
    output_tokens: 0,
    total_tokens: 0,
    usd: null,
    priced: 0,
    unpriced: 0,
  };
  for (const a of list) {
    const t = tokenCounts(a.tokens);
    out.input_tokens += t.input;
    out.output_tokens += t.output;
    out.total_tokens += t.total;
    if (a.cost.usd !== null) {
      out.priced++;
      out.usd = roundUsd((out.usd ?? 0) + a.cost.usd);
    } else if (usedTokens(a.tokens)) out.unpriced++;
  }
  return out;
}

/** "$0.0123" for a person; "-" when unknown. */
export function formatUsd(usd: number | null): string {
  if (usd === null) return "-";
  return usd >= 1 ? `$${usd.toFixed(2)}` : `$${usd.toFixed(4)}`;
}
