// The coordinator's checks of a worker's result and evidence tree, without Redis or a remote.
import { digest, digestBytes } from "@dwm/core";
import type { Attempt, AttemptJobResult, AttemptRequest } from "@dwm/schemas";
import { afterAll, describe, expect, it } from "vitest";
import { exampleRepo, firstAttemptRequest } from "../test-support/example.js";
import { checkResultIdentity, expectedEvidence, parseEvidenceTree } from "./collect-evidence.js";
import { evidenceRef, jobIdOf, queuedAttemptBranch, workRef } from "./names.js";

const ex = exampleRepo("repo-audit");
afterAll(() => ex.repo.cleanup());

const INSTANCE = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const REQUEST_DIGEST = `sha256:${"b".repeat(64)}`;

// checkResultIdentity compares fields; an attempt with just those fields is enough.
function resultOf(request: AttemptRequest, change: Partial<Attempt> = {}): AttemptJobResult {
  const run = { runId: request.run_id, instance: INSTANCE };
  const { packet_id } = request.packet;
  const attempt = {
    run_id: request.run_id,
    packet_id: request.packet.packet_id,
    attempt: request.attempt,
    packet_digest: digest(request.packet),
    base_commit: request.base_commit,
    prompt_digest: digestBytes(request.prompt),
    branch: queuedAttemptBranch(run, packet_id, request.attempt),
    head_commit: "c".repeat(40),
    ...change,
  } as unknown as Attempt;
  return {
    kind: "attempt-job-result",
    schema_version: "1",
    job_id: jobIdOf(run, packet_id, request.attempt),
    request_digest: REQUEST_DIGEST,
    worker: "w1",
    attempt_digest: digest(attempt),
    attempt,
    evidence: { ref: evidenceRef(run, packet_id, request.attempt), commit: "e".repeat(40) },
    branch: { ref: workRef(run, packet_id, request.attempt), commit: "c".repeat(40) },
  } as AttemptJobResult;
}

describe("checkResultIdentity: a result belongs to its job before anything is fetched", () => {
  const request = firstAttemptRequest(ex);
  const run = { runId: request.run_id, instance: INSTANCE };
  const job = {
    request,
    run,
    jobId: jobIdOf(run, request.packet.packet_id, 1),
    packetDigest: digest(request.packet),
    requestDigest: REQUEST_DIGEST,
  };
  const ok = (change: Partial<Attempt> = {}) => resultOf(request, change);

  it("a result of this job, request, attempt, packet, base and prompt passes", () => {
    expect(() => checkResultIdentity(job, ok())).not.toThrow();
  });

  it.each([
    ["another attempt number", { attempt: 2 }, "the attempt is"],
    [
      "another packet digest",
      { packet_digest: `sha256:${"0".repeat(64)}` },
      "the attempt names another packet digest",
    ],
    ["another base commit", { base_commit: "b".repeat(40) }, "the attempt started from another base commit"],
    ["another prompt", { prompt_digest: `sha256:${"0".repeat(64)}` }, "the attempt names another prompt"],
    [
      "work that is not the pushed one",
      { head_commit: "d".repeat(40) },
      "the pushed work is not the attempt's head commit",
    ],
    [
      "a branch of another run instance",
      { branch: queuedAttemptBranch({ ...run, instance: "f".repeat(32) }, request.packet.packet_id, 1) },
      "not this run instance's",
    ],
  ])("%s is ERR_QUEUE_EVIDENCE_MISMATCH", (_what, change, message) => {
    expect(() => checkResultIdentity(job, ok(change as Partial<Attempt>))).toThrow(
      expect.objectContaining({
        code: "ERR_QUEUE_EVIDENCE_MISMATCH",
        message: expect.stringContaining(message),
      }),
    );
  });

  it("a result for another job or request, a digest that is not the attempt's, or another run instance's refs is refused", () => {
    const r = ok();
    const refused = (x: AttemptJobResult, message: string) =>
      expect(() => checkResultIdentity(job, x)).toThrow(
        expect.objectContaining({
          code: "ERR_QUEUE_EVIDENCE_MISMATCH",
          message: expect.stringContaining(message),
        }),
      );
    const other = { ...run, instance: "f".repeat(32) };
    const id = request.packet.packet_id;
    refused({ ...r, job_id: jobIdOf(other, id, 1) }, "the result is for job");
    refused({ ...r, request_digest: `sha256:${"0".repeat(64)}` }, "the result answers request");
    refused({ ...r, attempt_digest: `sha256:${"0".repeat(64)}` }, "attempt_digest");
    refused({ ...r, evidence: { ...r.evidence, ref: evidenceRef(other, id, 1) } }, "unexpected evidence ref");
    refused(
      { ...r, branch: { ref: workRef(other, id, 1), commit: "c".repeat(40) } },
      "the pushed work is not",
    );
  });
});

describe("the evidence tree", () => {
  it("parseEvidenceTree: path → blob; a tree or link inside is refused", () => {
    const listing = [
      `100644 blob ${"1".repeat(40)}\tattempt.json`,
      `100644 blob ${"2".repeat(40)}\tstdout`,
      "",
    ].join("\0");
    expect([...parseEvidenceTree(listing, "j")]).toEqual([
      ["attempt.json", "1".repeat(40)],
      ["stdout", "2".repeat(40)],
    ]);
    expect(() => parseEvidenceTree(`160000 commit ${"3".repeat(40)}\tsub\0`, "j")).toThrow(
      expect.objectContaining({
        code: "ERR_QUEUE_EVIDENCE_MISMATCH",
        message: "job j: the evidence holds a commit at sub",
      }),
    );
  });

  it("expectedEvidence: exactly attempt.json and the files it lists", () => {
    const attempt = { files: [{ path: "stdout", digest: "sha256:x", bytes: 1 }] } as unknown as Attempt;
    const tree = (...paths: string[]) => new Map(paths.map((p) => [p, "o"]));
    expect([...expectedEvidence(attempt, tree("attempt.json", "stdout", "stdout"), "j").keys()]).toEqual([
      "stdout",
    ]);
    expect(() => expectedEvidence(attempt, tree("attempt.json", "stdout", "extra"), "j")).toThrow(
      expect.objectContaining({
        message: "job j: the evidence tree differs from attempt.json (extra: extra; missing: none)",
      }),
    );
    expect(() => expectedEvidence(attempt, tree("stdout"), "j")).toThrow(
      expect.objectContaining({
        message: "job j: the evidence tree differs from attempt.json (extra: none; missing: attempt.json)",
      }),
    );
    const self = { files: [{ path: "attempt.json", digest: "sha256:x", bytes: 1 }] } as unknown as Attempt;
    expect(() => expectedEvidence(self, tree("attempt.json"), "j")).toThrow(
      expect.objectContaining({ message: "job j: attempt.json lists itself" }),
    );
    const escaping = { files: [{ path: "../outside", digest: "sha256:x", bytes: 1 }] } as unknown as Attempt;
    expect(() => expectedEvidence(escaping, tree("attempt.json"), "j")).toThrow(
      expect.objectContaining({ code: "ERR_OUT_PATH_UNSAFE" }),
    );
  });
});
