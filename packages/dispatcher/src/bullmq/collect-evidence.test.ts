// The coordinator's checks of a worker's result and evidence tree, without Redis or a remote.
import { digest, digestBytes } from "@dwm/core";
import type { Attempt, AttemptJobResult, AttemptRequest } from "@dwm/schemas";
import { afterAll, describe, expect, it } from "vitest";
import { exampleRepo, firstAttemptRequest } from "../test-support/example.js";
import { checkResultIdentity, expectedEvidence, parseEvidenceTree } from "./collect-evidence.js";
import { evidenceRef } from "./names.js";

const ex = exampleRepo("repo-audit");
afterAll(() => ex.repo.cleanup());

// checkResultIdentity compares fields; an attempt with just those fields is enough.
function resultOf(request: AttemptRequest, change: Partial<Attempt> = {}): AttemptJobResult {
  const attempt = {
    run_id: request.run_id,
    packet_id: request.packet.packet_id,
    attempt: request.attempt,
    packet_digest: digest(request.packet),
    base_commit: request.base_commit,
    prompt_digest: digestBytes(request.prompt),
    branch: "dwm/r/p/1",
    head_commit: "c".repeat(40),
    ...change,
  } as unknown as Attempt;
  return {
    kind: "attempt-job-result",
    schema_version: "1",
    job_id: `${request.run_id}/${request.packet.packet_id}/${request.attempt}`,
    worker: "w1",
    attempt_digest: digest(attempt),
    attempt,
    evidence: {
      ref: evidenceRef(request.run_id, request.packet.packet_id, request.attempt),
      commit: "e".repeat(40),
    },
    branch: { ref: "refs/heads/dwm/r/p/1", commit: "c".repeat(40) },
  } as AttemptJobResult;
}

describe("checkResultIdentity: a result belongs to its job before anything is fetched", () => {
  const request = firstAttemptRequest(ex);
  const ok = (change: Partial<Attempt> = {}) => resultOf(request, change);

  it("a result of this job, attempt, packet, base and prompt passes and names the job", () => {
    expect(checkResultIdentity(request, digest(request.packet), ok())).toBe(
      `${request.run_id}/${request.packet.packet_id}/1`,
    );
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
      "a branch that is not the pushed one",
      { head_commit: "d".repeat(40) },
      "the pushed branch is not the attempt's branch",
    ],
  ])("%s is ERR_QUEUE_EVIDENCE_MISMATCH", (_what, change, message) => {
    expect(() =>
      checkResultIdentity(request, digest(request.packet), ok(change as Partial<Attempt>)),
    ).toThrow(
      expect.objectContaining({
        code: "ERR_QUEUE_EVIDENCE_MISMATCH",
        message: expect.stringContaining(message),
      }),
    );
  });

  it("a result for another job, a digest that is not the attempt's, or another evidence ref is refused", () => {
    const r = ok();
    const refused = (x: AttemptJobResult) =>
      expect(() => checkResultIdentity(request, digest(request.packet), x)).toThrow(
        expect.objectContaining({ code: "ERR_QUEUE_EVIDENCE_MISMATCH" }),
      );
    refused({ ...r, job_id: "other/job/1" });
    refused({ ...r, attempt_digest: `sha256:${"0".repeat(64)}` });
    refused({ ...r, evidence: { ...r.evidence, ref: "refs/dwm/evidence/other/p/1" } });
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
