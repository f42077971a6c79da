import fs from "node:fs";
import path from "node:path";
import { resolveInside } from "@dwm/core";
import { attemptFiles, runAttempt } from "@dwm/executor";
import type { ReviewerWorkerResult, RunReviewerWorker } from "@dwm/reviewer";
import type {
  Attempt,
  AttemptRequest,
  Packet,
  PacketWorker,
  WorkerBinding,
  WorkerBindings,
} from "@dwm/schemas";
import { executorPorts } from "./attempt-queue.js";
import type { RunContext } from "./context.js";

/** A reviewer worker and the binding that runs it. */
export interface ReviewerChoice {
  worker: PacketWorker;
  binding: WorkerBinding;
}

/** What a reviewer of the bindings file may do: read. No writes, no shell, no network, so no gate. */
const READ_ONLY: PacketWorker["tool_permissions"] = {
  read: true,
  write: false,
  shell: false,
  network: false,
  mcp_connectors: [],
  requires_escalation_for: [],
};

/**
 * The reviewer of a packet: the one its plan names (packet.reviewer, bound like any worker),
 * else the worker bindings' `reviewer`; null when neither names one, or for a packet that is a
 * command or a gate (nothing an agent did to refute) or has no binding for it.
 */
export function reviewerOf(packet: Packet, bindings: WorkerBindings): ReviewerChoice | null {
  if (packet.command !== undefined || packet.workers.length === 0) return null;
  if (packet.reviewer) {
    const b = bindings.bindings[packet.reviewer.id] ?? bindings.bindings["*"];
    return b ? { worker: packet.reviewer, binding: b } : null;
  }
  const key = bindings.reviewer;
  const b = key === undefined ? undefined : bindings.bindings[key];
  if (key === undefined || !b) return null;
  return {
    worker: {
      id: key,
      role: "Try to refute the result of another worker; change nothing",
      tool_permissions: READ_ONLY,
      ownership: [],
      forbidden_actions: ["changing any file"],
      prompt_contract: {
        inputs: [],
        required_output_schema: "a VERDICT line, then the reasons",
        stop_conditions: [],
      },
      context_budget: { max_files: 50, max_tokens: 50_000, must_include: [], must_exclude: [".dwm/"] },
    },
    binding: b,
  };
}

/** The packet the reviewer's own attempt runs: the task as it was, the reviewer as its only worker, nothing to produce. */
export function reviewerPacket(packet: Packet, worker: PacketWorker): Packet {
  const { reviewer: _r, completion_gate: _g, command: _c, fanout: _f, first_slice: _s, ...rest } = packet;
  return {
    ...rest,
    packet_id: `review/${packet.packet_id}`,
    workers: [{ ...worker, tool_permissions: { ...worker.tool_permissions, write: false } }],
    inputs: [],
    outputs: [],
    verification: [],
    gates: [],
    human_gate: false,
    budget: { max_retries: 0 },
    stop_conditions: [],
    completion_check: null,
  };
}

/** `reviews/<packet>/<n>.reviewer`: where the reviewer's attempt of attempt n is kept, relative to the run. */
export function reviewerRel(packetId: string, n: number): string {
  return `reviews/${packetId}/${n}.reviewer`;
}

const VERDICT = /^\s*VERDICT:\s*(approved|changes-requested|needs-human)\b[^\n]*\n?([\s\S]*)$/im;

/** The verdict line a reviewer answered with, and its reasons (bounded). */
export function parseVerdict(text: string): Pick<ReviewerWorkerResult, "verdict" | "summary"> | null {
  const m = VERDICT.exec(text);
  if (!m) return null;
  const reasons = (m[2] ?? "").trim().slice(0, 2000);
  return { verdict: m[1] as ReviewerWorkerResult["verdict"], summary: reasons === "" ? null : reasons };
}

/** The text a reviewer's attempt answered with: codex's last message, claude's result, else its stdout. */
export function answerOf(dir: string, attempt: Attempt): { text: string; transcript: string | null } {
  const inv = attempt.invocations[0];
  if (!inv) return { text: "", transcript: null };
  const read = (rel: string | null) => {
    if (rel === null) return "";
    const f = path.join(dir, rel);
    return fs.existsSync(f) ? fs.readFileSync(f, "utf8") : "";
  };
  const folder = path.posix.dirname(inv.stdout ?? inv.prompt);
  const last = read(`${folder}/last-message.md`);
  if (last.trim() !== "") return { text: last, transcript: inv.transcript ?? inv.stdout };
  if (inv.transcript) {
    const result = read(inv.transcript)
      .split("\n")
      .filter((l) => l.trim().startsWith("{"))
      .map((l) => JSON.parse(l) as { type?: string; result?: unknown })
      .findLast((o) => o.type === "result" && typeof o.result === "string");
    if (result) return { text: result.result as string, transcript: inv.transcript };
  }
  return { text: read(inv.stdout), transcript: inv.transcript ?? inv.stdout };
}

/** The run-relative files of a reviewer's attempt, for packet.reviewed to name. */
export interface ReviewerEvidence {
  files: { path: string; digest: string }[];
}

/**
 * The port reviewAttempt asks the reviewer through: one read-only attempt of the reviewer
 * worker over the candidate commit (the reviewed attempt's head), its prompt the one
 * reviewAttempt renders (task, checks, the change) asking it to refute; the answer is its
 * `VERDICT:` line. An attempt that does not end ok, or answers no verdict, is an error: the
 * review then leaves it to a human (REVIEW_WORKER_UNAVAILABLE). `evidence.files` collects
 * the attempt's files.
 */
export function reviewerPort(
  ctx: RunContext,
  packet: Packet,
  attempt: Attempt,
  choice: ReviewerChoice,
  evidence: ReviewerEvidence,
): RunReviewerWorker {
  return async (prompt) => {
    const { setup } = ctx;
    const id = packet.packet_id;
    const rel = reviewerRel(id, attempt.attempt);
    const dir = resolveInside(setup.dir, rel, "reviewer attempt directory");
    // A crash may have left a half-written one: the review runs again from the start.
    fs.rmSync(dir, { recursive: true, force: true });
    const request: AttemptRequest = {
      kind: "attempt-request",
      schema_version: "1",
      run_id: setup.runId,
      packet: reviewerPacket(packet, choice.worker),
      prompt,
      attempt: attempt.attempt,
      base_commit: attempt.head_commit ?? attempt.base_commit,
      binding: {
        bindings_digest: setup.options.bindingsDigest,
        workers: { [choice.worker.id]: choice.binding },
      },
      inputs: [],
      repair_context: null,
      repo: setup.repo,
      limits: setup.options.limits ?? {},
    };
    let reviewed: Attempt;
    try {
      reviewed = await runAttempt(request, executorPorts(ctx, dir));
    } catch (e) {
      // What it wrote before it threw (its prompt) has no attempt.json to list it, so no event
      // would name it: gone, the review goes on without the reviewer (the error says why).
      fs.rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    evidence.files.push(...attemptFiles(reviewed, rel));
    const answer = answerOf(dir, reviewed);
    const transcript = answer.transcript === null ? null : `${rel}/${answer.transcript}`;
    if (reviewed.outcome !== "ok") {
      throw new Error(
        `the reviewer's attempt ended ${reviewed.outcome}${reviewed.invocations[0]?.detail ? `: ${reviewed.invocations[0].detail}` : ""} (${rel})`,
      );
    }
    const v = parseVerdict(answer.text);
    if (!v) throw new Error(`the reviewer answered no VERDICT line (${transcript ?? rel})`);
    return { ...v, transcript, worker_id: choice.worker.id, attempt: `${rel}/attempt.json` };
  };
}
