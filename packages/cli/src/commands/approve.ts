import { execFileSync } from "node:child_process";
import os from "node:os";
import { loadRun } from "@dwm/compiler";
import { digest, digestBytes, isDwmError, renderArtifact } from "@dwm/core";
import { attestCompletedPackets } from "@dwm/dispatcher";
import {
  buildApproval,
  gateResolverErrors,
  gateView,
  loadGateReview,
  resolveGate,
  signApproval,
  workerEnvironmentReason,
  writeApproval,
} from "@dwm/gate-resolver";
import { registerHandoffs } from "@dwm/ingester";
import { foldJournal, openJournal, readJournal } from "@dwm/runtime";
import type { Approval, Approver, GateDecision, RunState } from "@dwm/schemas";
import type { CommandContext, CommandResult, ParsedArgs } from "../command.js";
import { cliErrors } from "../errors.js";
import { codedErrorOf } from "../internal/error-of.js";
import { checkBeforeChange } from "../internal/preflight.js";
import { integrationHeadNow, operatorFor } from "../operator.js";
import { repoRoot, resolveRun } from "../run-arg.js";

/** Who decides: git's user.name (and email) in the repository, else the OS account. */
export function approverOf(ctx: CommandContext): Approver {
  const env = Object.fromEntries(
    Object.entries(ctx.env).filter((e): e is [string, string] => e[1] !== undefined),
  );
  const get = (key: string) => {
    try {
      return execFileSync("git", ["config", "--get", key], {
        cwd: repoRoot(ctx.cwd),
        env,
        encoding: "utf8",
        timeout: 5000,
        stdio: ["ignore", "pipe", "ignore"],
      }).trim();
    } catch {
      return "";
    }
  };
  const name = get("user.name");
  if (name) {
    const email = get("user.email");
    return { name: email ? `${name} <${email}>` : name, source: "git" };
  }
  return { name: os.userInfo().username || "unknown", source: "os-user" };
}

function packetsOption(v: ParsedArgs["values"][string]): string[] {
  const list = Array.isArray(v) ? v : typeof v === "string" ? [v] : [];
  return list
    .flatMap((s) => s.split(","))
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** What `dwm approve|reject` was asked, checked before the run is read. */
export interface DecisionArgs {
  runArg: string | undefined;
  gateId: string;
  reason: string;
  packets: string[];
}

/** Check a decision's arguments: a gate named, not from inside a worker, --packets only with reject. */
export function decisionArgs(
  args: ParsedArgs,
  ctx: CommandContext,
  decision: Approval["decision"],
): DecisionArgs {
  const [runArg, gateId] = args.positionals;
  if (gateId === undefined) {
    throw cliErrors.create("ERR_CLI_USAGE", `${decision}: name the run and the gate`, {
      hint: `Usage: dwm ${decision} <run> <gate>`,
    });
  }
  const why = workerEnvironmentReason(ctx.env, ctx.cwd);
  if (why) {
    throw gateResolverErrors.create(
      "ERR_GATE_APPROVER_IS_WORKER",
      `refusing to ${decision} gate ${gateId}: ${why}`,
    );
  }
  const reason = typeof args.values.reason === "string" ? args.values.reason : "";
  const packets = packetsOption(args.values.packets);
  if (decision === "approve" && packets.length > 0) {
    throw cliErrors.create("ERR_CLI_USAGE", "--packets names packets to rework; it goes with dwm reject");
  }
  return { runArg, gateId, reason, packets };
}

/** The run's journal under its lock, or null when a running `dwm run` holds the lock. */
function openJournalUnlessLocked(runDir: string, ctx: CommandContext): ReturnType<typeof openJournal> | null {
  try {
    return openJournal(runDir, { clock: ctx.clock });
  } catch (e) {
    if (!(isDwmError(e) && e.code === "ERR_RUN_LOCKED")) throw e;
    return null;
  }
}

/**
 * Decide a gate: build the decision for the gate and the integration head as they are now,
 * sign it with the operator's key (which the repository must trust), check it as the runner
 * would, write approvals/<gate>/<n>.json, and journal it under the run lock. When a running
 * `dwm run` holds the lock, the signed approval is written and left for that runner, which
 * checks signature, gate and head again before it counts it (docs/security.md).
 */
export async function decide(
  args: ParsedArgs,
  ctx: CommandContext,
  decision: Approval["decision"],
): Promise<CommandResult> {
  const { runArg, gateId, reason, packets } = decisionArgs(args, ctx, decision);
  const resolved = resolveRun({ ...args, positionals: runArg === undefined ? [] : [runArg] }, ctx);
  checkBeforeChange(resolved.runDir, decision, resolved.ref);
  const loaded = loadRun(resolved.runDir);
  const approver = approverOf(ctx);
  const repo = repoRoot(resolved.runDir);
  const operator = operatorFor(ctx, repo);
  const { key } = operator;
  const integrationHead = await integrationHeadNow(ctx, repo, loaded.run);

  const prepare = (state: RunState) => {
    const approval = buildApproval(state, loaded, {
      gateId,
      decision,
      reason,
      packets,
      approver,
      keyId: key.keyId,
      integrationHead,
      clock: ctx.clock,
    });
    const view = gateView(state, loaded, gateId);
    const review = decision === "approve" ? loadGateReview(resolved.runDir, state, view.packets) : null;
    // Check the whole decision before anything is written: a refused one leaves no file behind.
    resolveGate(state, approval, loaded, {
      approvalPath: `approvals/${gateId}/0.json`,
      approvalDigest: digestBytes(renderArtifact(signApproval(approval, key))),
      integrationHead,
      review,
    });
    return { approval, review };
  };
  const gateDecision = (approval: Approval, approvalPath: string, events: string[] | null): GateDecision => ({
    kind: "gate-decision",
    schema_version: "1",
    run_id: loaded.run.run_id,
    gate_id: gateId,
    decision,
    approval_path: approvalPath,
    approval_digest: digest(approval),
    journaled: events !== null,
    events: events ?? [],
    approval,
  });

  const journal = openJournalUnlessLocked(resolved.runDir, ctx);
  let doc: GateDecision;
  let warnings: readonly string[] = [];
  let late: string[] = [];
  if (journal === null) {
    const { events } = readJournal(resolved.runDir);
    const { approval } = prepare(foldJournal(events, loaded.run));
    const stored = writeApproval(resolved.runDir, approval, key);
    doc = gateDecision(approval, stored.path, null);
  } else {
    try {
      const { approval, review } = prepare(journal.state);
      const stored = writeApproval(resolved.runDir, approval, key);
      const { events, copies } = resolveGate(journal.state, approval, loaded, {
        approvalPath: stored.path,
        approvalDigest: stored.digest,
        integrationHead,
        review,
      });
      registerHandoffs(resolved.runDir, copies);
      journal.appendAll(events);
      late = attestAfterDecision(resolved.ref, resolved.runDir, loaded.run, journal, operator);
      doc = gateDecision(
        approval,
        stored.path,
        events.map((e) => e.type),
      );
    } finally {
      journal.close();
      warnings = [...journal.warnings, ...late];
    }
  }
  return { exitCode: 0, output: doc, text: decisionText(doc, approver, resolved.ref), warnings };
}

/**
 * Attest at once, as the runner would, a packet a journaled decision completed (a human gate's).
 * The decision stands once journaled: a failure here (a full disk) is a warning, and the next
 * `dwm run` attests the packet.
 */
function attestAfterDecision(ref: string, ...args: Parameters<typeof attestCompletedPackets>): string[] {
  try {
    attestCompletedPackets(...args);
    return [];
  } catch (e) {
    const err = codedErrorOf(e);
    const why = `${err.code}: ${err.message}`;
    return [
      `the decision is journaled, but the packets it completed were not attested (${why}); \`dwm run ${ref}\` attests them`,
    ];
  }
}

/** What was decided, by whom, where the approval is, and whether it counts yet. */
function decisionText(doc: GateDecision, approver: Approver, ref: string): string {
  const verb = doc.decision === "approve" ? "Approved" : "Rejected";
  const lines = [
    `${verb} gate ${doc.gate_id} of run ${doc.run_id} as ${approver.name} (${approver.source}).`,
    `approval: ${doc.approval_path}, signed with ${doc.approval.key_id}, at integration head ${doc.approval.integration_head ?? "(none)"}`,
  ];
  if (doc.approval.packets.length) lines.push(`sent back for rework: ${doc.approval.packets.join(", ")}`);
  lines.push(
    doc.journaled
      ? `journal: ${doc.events.join(", ")}`
      : "A running `dwm run` holds the run lock: it checks this approval again and records it at its next step; until then it does not count.",
  );
  lines.push(`next: dwm run ${ref}`);
  return lines.join("\n");
}

export async function run(args: ParsedArgs, ctx: CommandContext): Promise<CommandResult> {
  return decide(args, ctx, "approve");
}
