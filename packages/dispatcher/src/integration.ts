import type { Clock } from "@dwm/core";
import { digest, gitDate } from "@dwm/core";
import { DWM_GIT_IDENTITY, type GitPort, integrationBranch } from "@dwm/executor";
import type { EventDraft } from "@dwm/runtime";
import type { Gate } from "@dwm/schemas";
import { dispatcherErrors } from "./errors.js";

const OID = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

export { integrationBranch };

/** Id of the gate a merge conflict of a packet's attempt opens (`-<k>` when asked again). */
export function mergeConflictGateId(packetId: string, attempt: number, k = 1): string {
  return `merge-conflict/${packetId}/${attempt}${k > 1 ? `-${k}` : ""}`;
}

/**
 * The gate a merge conflict opens: deterministic from what conflicted, so its digest
 * can be recomputed; it has no file under gates/ (like the needs-human gates).
 */
export function mergeConflictGate(input: {
  gateId: string;
  runId: string;
  packetId: string;
  attempt: number;
  paths: readonly string[];
  /** Packets already merged whose work touched the conflicting paths. */
  against: readonly string[];
}): Gate {
  const branch = integrationBranch(input.runId);
  const shown = input.paths.slice(0, 10);
  return {
    kind: "gate",
    schema_version: "1",
    gate_id: input.gateId,
    category: "human-review",
    trigger: `merging ${input.packetId} (attempt ${input.attempt}) into ${branch} conflicts in ${shown.join(", ")}${
      input.paths.length > shown.length ? ` and ${input.paths.length - shown.length} more` : ""
    }${input.against.length ? ` with the work of ${input.against.join(", ")}` : ""}`,
    safe_default: `hold ${input.packetId} and everything after it unmerged; reject with a reason to redo ${input.packetId} on top of ${branch}, or merge it into ${branch} by hand and approve`,
    source: "runtime",
    packets: [input.packetId],
    review: [...input.paths],
    requires_approval: true,
  };
}

export interface IntegrationPorts {
  git: GitPort;
  clock: Clock;
  repo: string;
}

export type MergeResult =
  | { kind: "merged"; commit: string; how: "already" | "fast-forward" | "merge" }
  | { kind: "conflict"; paths: string[] };

async function rev(ports: IntegrationPorts, ref: string): Promise<string | null> {
  const r = await ports.git.run(ports.repo, ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`]);
  const oid = r.stdout.trim();
  return r.exitCode === 0 && OID.test(oid) ? oid : null;
}

async function isAncestor(ports: IntegrationPorts, a: string, b: string): Promise<boolean> {
  if (a === b) return true;
  const r = await ports.git.run(ports.repo, ["merge-base", "--is-ancestor", a, b]);
  if (r.exitCode === 0) return true;
  if (r.exitCode === 1) return false;
  throw dispatcherErrors.create("ERR_DISPATCH_BASE_MISSING", `git merge-base failed: ${r.stderr.trim()}`, {
    details: { a, b },
  });
}

/**
 * The integration head an approval is bound to: the integration branch head, else (nothing
 * merged yet) the run's base commit. `dwm approve` shows it and signs it; the runner counts
 * the approval only while it is still the head.
 */
export async function approvalHead(
  ports: IntegrationPorts,
  runId: string,
  baseCommit: string | null,
): Promise<string | null> {
  return (await integrationHead(ports, runId)) ?? baseCommit;
}

/**
 * Refuse to build on an integration branch that lost work this run merged: each of `merged`
 * (the commits the journal recorded as merged) must be in `head`'s history. Someone moved the
 * branch back or elsewhere (a worker whose sandbox did not hold, a hand reset); merging on top
 * would silently drop reviewed work. Throws ERR_DISPATCH_INTEGRATION_REWOUND.
 */
export async function assertIntegrationKeeps(
  ports: IntegrationPorts,
  runId: string,
  head: string | null,
  merged: readonly string[],
): Promise<void> {
  if (merged.length === 0) return;
  const ref = `refs/heads/${integrationBranch(runId)}`;
  const lost = (missing: string[]) =>
    dispatcherErrors.create(
      "ERR_DISPATCH_INTEGRATION_REWOUND",
      `${ref} no longer holds ${missing.length} merged commit(s) of this run: ${missing.slice(0, 5).join(", ")}`,
      { details: { ref, head, missing: missing.slice(0, 50) } },
    );
  if (head === null) throw lost([...merged]);
  // One git call for any number of merges: what the merged commits reach that the head does not.
  const r = await ports.git.run(ports.repo, ["rev-list", "--no-walk=unsorted", ...merged, `^${head}`]);
  if (r.exitCode !== 0) throw lost([...merged]);
  const missing = r.stdout.split("\n").filter((l) => OID.test(l));
  if (missing.length > 0) throw lost(missing);
}

/** The integration branch head, or null when nothing was merged yet. */
export async function integrationHead(ports: IntegrationPorts, runId: string): Promise<string | null> {
  return rev(ports, `refs/heads/${integrationBranch(runId)}`);
}

/** DWM's identity and the clock's time, for a commit DWM makes on the integration branch. */
export function dwmCommitEnv(clock: Clock): Record<string, string> {
  const when = gitDate(clock.now());
  return {
    GIT_AUTHOR_NAME: DWM_GIT_IDENTITY.name,
    GIT_AUTHOR_EMAIL: DWM_GIT_IDENTITY.email,
    GIT_COMMITTER_NAME: DWM_GIT_IDENTITY.name,
    GIT_COMMITTER_EMAIL: DWM_GIT_IDENTITY.email,
    GIT_AUTHOR_DATE: when,
    GIT_COMMITTER_DATE: when,
  };
}

/** Move the integration branch from `prev` (null: create it) to `next`, or throw ERR_DISPATCH_INTEGRATION_MOVED. */
export async function updateRef(ports: IntegrationPorts, runId: string, next: string, prev: string | null) {
  const ref = `refs/heads/${integrationBranch(runId)}`;
  // Compare-and-swap: the ref moves only from the value the merge was computed against.
  const args = ["update-ref", "-m", "dwm integration", ref, next, prev ?? "0".repeat(next.length)];
  const r = await ports.git.run(ports.repo, args);
  if (r.exitCode !== 0) {
    throw dispatcherErrors.create(
      "ERR_DISPATCH_INTEGRATION_MOVED",
      `${ref} could not be moved to ${next}: ${r.stderr.trim().split("\n").at(-1) ?? ""}`,
      { details: { ref, next, prev } },
    );
  }
}

/**
 * Merge a packet's commit into the run's integration branch without a worktree:
 * `git merge-tree --write-tree` computes the merge, `git commit-tree` records it with
 * DWM's identity and the clock's time, `git update-ref` moves the branch (compare and
 * swap). A conflict changes nothing and returns the conflicting paths. The branch is
 * created at `base` on the first merge.
 */
export async function mergeIntoIntegration(
  ports: IntegrationPorts,
  input: {
    runId: string;
    base: string;
    packetId: string;
    attempt: number;
    commit: string;
    /**
     * The branch head the caller holds (it read it, or moved the branch last; null: no branch
     * yet). Omitted, it is read from git. A stale value cannot lose work: every move of the
     * branch is a compare-and-swap against it (ERR_DISPATCH_INTEGRATION_MOVED).
     */
    head?: string | null;
  },
): Promise<MergeResult> {
  const head = input.head !== undefined ? input.head : await integrationHead(ports, input.runId);
  const current = head ?? input.base;
  // A packet that committed nothing has the commit it started from: merged already when that
  // is the branch head (no git call needed to say so).
  if (input.commit === current) {
    if (head === null) await updateRef(ports, input.runId, current, null);
    return { kind: "merged", commit: current, how: "already" };
  }
  if ((await rev(ports, input.commit)) === null) {
    throw dispatcherErrors.create(
      "ERR_DISPATCH_BASE_MISSING",
      `commit ${input.commit} of ${input.packetId} is not in the repository`,
      { details: { packet_id: input.packetId, commit: input.commit } },
    );
  }
  if (await isAncestor(ports, input.commit, current)) {
    if (head === null) await updateRef(ports, input.runId, current, null);
    return { kind: "merged", commit: current, how: "already" };
  }
  if (await isAncestor(ports, current, input.commit)) {
    await updateRef(ports, input.runId, input.commit, head);
    return { kind: "merged", commit: input.commit, how: "fast-forward" };
  }
  const mt = await ports.git.run(ports.repo, [
    "merge-tree",
    "--write-tree",
    "--no-messages",
    "--name-only",
    "-z",
    current,
    input.commit,
  ]);
  const fields = mt.stdout.split("\0");
  const tree = (fields[0] ?? "").trim();
  if (mt.exitCode === 1) {
    const paths = [...new Set(fields.slice(1).filter((f) => f !== ""))].sort();
    return { kind: "conflict", paths };
  }
  if (mt.exitCode !== 0 || !OID.test(tree)) {
    throw dispatcherErrors.create(
      "ERR_DISPATCH_BASE_MISSING",
      `git merge-tree failed (exit ${mt.exitCode}): ${mt.stderr.trim()}`,
      { details: { packet_id: input.packetId } },
    );
  }
  const ct = await ports.git.run(
    ports.repo,
    [
      "commit-tree",
      tree,
      "-p",
      current,
      "-p",
      input.commit,
      "-m",
      `dwm: merge ${input.packetId} (attempt ${input.attempt})\n\nrun ${input.runId}`,
    ],
    { env: dwmCommitEnv(ports.clock) },
  );
  const commit = ct.stdout.trim();
  if (ct.exitCode !== 0 || !OID.test(commit)) {
    throw dispatcherErrors.create(
      "ERR_DISPATCH_BASE_MISSING",
      `git commit-tree failed: ${ct.stderr.trim()}`,
      {
        details: { packet_id: input.packetId },
      },
    );
  }
  await updateRef(ports, input.runId, commit, head);
  return { kind: "merged", commit, how: "merge" };
}

/** The journal drafts of a conflict: integration.conflict, then gate.opened of its gate. */
export function conflictDrafts(gate: Gate, packetId: string, paths: readonly string[]): EventDraft[] {
  return [
    { type: "integration.conflict", data: { packet_id: packetId, paths: [...paths], gate_id: gate.gate_id } },
    {
      type: "gate.opened",
      data: { gate_id: gate.gate_id, gate_digest: digest(gate), packets: [packetId], reason: gate.trigger },
    },
  ];
}
