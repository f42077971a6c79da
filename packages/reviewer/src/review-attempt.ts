import path from "node:path";
import { type Clock, checkRelativePath, digest, isDwmError } from "@dwm/core";
import {
  type Attempt,
  type Packet,
  type Review,
  type ReviewCheck,
  type ReviewEvidence,
  type ReviewFinding,
  type ReviewHandoff,
  validateSchema,
} from "@dwm/schemas";
import { reviewerErrors } from "./errors.js";
import { type DiffFile, findTestWeakening, parseDiff, scriptPathsOf } from "./internal/diff.js";
import { EvidenceReader, tail } from "./internal/evidence.js";
import { checkHandoff } from "./internal/handoff.js";
import { coverage, writableOwnership } from "./internal/ownership.js";
import { renderReviewerPrompt } from "./reviewer-prompt.js";
import { REVIEWER_VERSION } from "./version.js";

/** Attempt outcomes that say the infrastructure failed, not the work. */
export const INFRA_OUTCOMES = [
  "timeout",
  "crashed",
  "auth-failed",
  "backend-missing",
  "rate-limited",
] as const;
export type InfraOutcome = (typeof INFRA_OUTCOMES)[number];

export function isInfraOutcome(o: string): o is InfraOutcome {
  return (INFRA_OUTCOMES as readonly string[]).includes(o);
}

/** What the optional reviewer worker answers. */
export interface ReviewerWorkerResult {
  verdict: "approved" | "changes-requested" | "needs-human";
  /** Its transcript, relative to the run directory (the caller stores it), or null. */
  transcript: string | null;
  /** Its reasons in a few lines. */
  summary?: string | null;
}

/**
 * A port: run a reviewer worker (any worker binding) on a prompt that asks it to
 * refute the result. The caller wires it to the executor; the reviewer never runs one itself.
 */
export type RunReviewerWorker = (prompt: string) => Promise<ReviewerWorkerResult>;

export interface ReviewOptions {
  /** The attempt directory (attempts/<packet_id>/<n>/); evidence paths are relative to it. */
  attemptDir: string;
  clock: Clock;
  /** Optional reviewer worker asked to refute a result the deterministic checks passed. */
  runReviewerWorker?: RunReviewerWorker | undefined;
  /**
   * When nothing could falsify the result (no checkable output, no check, no command
   * phase, no reviewer worker): `needs-human` (default) or `approve`.
   */
  unverifiable?: "needs-human" | "approve" | undefined;
}

type Effect = ReviewFinding["effect"];

class Draft {
  readonly findings: ReviewFinding[] = [];
  readonly checks: ReviewCheck[] = [];
  check(id: string, kind: ReviewCheck["kind"], status: ReviewCheck["status"], detail: string): void {
    this.checks.push({ id, kind, status, detail });
  }
  find(code: string, message: string, effect: Effect, evidence: (ReviewEvidence | null)[] = []): void {
    this.findings.push({
      code,
      message,
      effect,
      evidence: evidence.filter((e): e is ReviewEvidence => e !== null),
    });
  }
  has(effect: Effect): boolean {
    return this.findings.some((f) => f.effect === effect);
  }
}

function verdictOf(d: Draft): Review["verdict"] {
  if (d.has("infra")) return "infra-failed";
  if (d.has("human")) return "needs-human";
  if (d.has("repair")) return "changes-requested";
  return "approved";
}

function assertInput(packet: Packet, attempt: Attempt): void {
  for (const [name, value] of [
    ["packet", packet],
    ["attempt", attempt],
  ] as const) {
    const r = validateSchema(name, value);
    if (!r.ok) {
      throw reviewerErrors.create(
        "ERR_REVIEW_ATTEMPT_INVALID",
        `the ${name} does not match the ${name} schema`,
        {
          details: { problems: r.problems.slice(0, 10) },
        },
      );
    }
  }
  const packetDigest = digest(packet);
  if (attempt.packet_id !== packet.packet_id || attempt.packet_digest !== packetDigest) {
    throw reviewerErrors.create(
      "ERR_REVIEW_ATTEMPT_MISMATCH",
      `attempt ${attempt.attempt} of ${attempt.packet_id} (packet ${attempt.packet_digest}) is not an attempt of ${packet.packet_id} (packet ${packetDigest})`,
      {
        details: {
          attempt_packet: attempt.packet_id,
          attempt_packet_digest: attempt.packet_digest,
          packet: packet.packet_id,
          packet_digest: packetDigest,
        },
      },
    );
  }
}

/** The invocation that decided the outcome: the last one that ran, else the last one. */
function decidingInvocation(attempt: Attempt) {
  const ran = attempt.invocations.filter((i) => i.outcome !== "not-run");
  return ran[ran.length - 1] ?? attempt.invocations[attempt.invocations.length - 1] ?? null;
}

function lineExcerpt(lines: string[]): string | null {
  return lines.length ? lines.join("\n") : null;
}

/**
 * Review one attempt of one packet from its recorded evidence: deterministic checks
 * first (outcome, declared outputs, handoff formats and required fields, validation
 * and verification results DWM recorded, permissions, test-weakening in the diff),
 * then, only when they all pass, the optional reviewer worker. Reads the attempt
 * directory (every file digest-checked against attempt.json); writes nothing.
 */
export async function reviewAttempt(
  packet: Packet,
  attempt: Attempt,
  options: ReviewOptions,
): Promise<Review> {
  assertInput(packet, attempt);
  const ev = new EvidenceReader(options.attemptDir, attempt);
  const d = new Draft();
  const handoffs: ReviewHandoff[] = [];
  let diffSummary: Review["diff"] = null;
  let worker: Review["reviewer_worker"] = null;
  const deciding = decidingInvocation(attempt);

  const finish = (): Review => ({
    kind: "review",
    schema_version: "1",
    reviewer_version: REVIEWER_VERSION,
    run_id: attempt.run_id,
    packet_id: packet.packet_id,
    packet_digest: attempt.packet_digest,
    attempt: attempt.attempt,
    attempt_digest: digest(attempt),
    outcome: attempt.outcome,
    verdict: verdictOf(d),
    findings: d.findings,
    checks: d.checks,
    handoffs,
    diff: diffSummary,
    branch: attempt.branch,
    head_commit: attempt.head_commit,
    reviewer_worker: worker,
    reviewed_at: options.clock.now(),
  });

  // 1. Outcome. Infrastructure failures end the review: they say nothing about the work.
  if (isInfraOutcome(attempt.outcome)) {
    const detail = deciding?.detail ?? null;
    d.check("outcome", "outcome", "fail", `infrastructure failure: ${attempt.outcome}`);
    d.find(
      "REVIEW_INFRA_FAILURE",
      `the attempt ended in an infrastructure failure (${attempt.outcome})${detail ? `: ${detail}` : ""}; this is not a verdict on the work`,
      "infra",
      [deciding ? ev.tailEvidence(deciding.stderr) : null],
    );
    return finish();
  }
  if (attempt.dry_run) {
    d.check("outcome", "outcome", "fail", "dry run: no worker ran");
    d.find("REVIEW_DRY_RUN", "no worker ran (dry run): there is no work to approve", "human");
    return finish();
  }
  if (attempt.outcome === "task-failed") {
    d.check("outcome", "outcome", "fail", `task failed with exit code ${attempt.exit_code ?? "none"}`);
    d.find(
      "REVIEW_TASK_FAILED",
      `the worker${deciding ? ` ${deciding.worker_id}` : ""} failed (exit code ${attempt.exit_code ?? "none"}${attempt.signal ? `, signal ${attempt.signal}` : ""})`,
      "repair",
      deciding ? [ev.tailEvidence(deciding.stderr), ev.tailEvidence(deciding.stdout)] : [],
    );
  } else {
    d.check("outcome", "outcome", "pass", `exit code ${attempt.exit_code ?? "none"}`);
  }

  // 2. Declared outputs and handoff artifacts.
  let falsifiers = 0;
  for (const out of packet.outputs) {
    const rec = attempt.outputs.find((o) => o.artifact === out.artifact);
    const id = `output:${out.artifact}`;
    if (!rec) {
      d.check(id, "output", "fail", "the attempt has no record of this declared output");
      d.find("REVIEW_MISSING_OUTPUT", `declared output ${out.artifact} was not looked for`, "repair");
      continue;
    }
    if (!rec.checked) {
      d.check(
        id,
        "output",
        "skipped",
        "the declared output is a description, not a path; it cannot be looked for",
      );
      continue;
    }
    falsifiers++;
    const isHandoff = out.format !== undefined || (out.required_fields?.length ?? 0) > 0;
    if (rec.found && rec.path === null) {
      // A directory output: its files are in diff.patch.
      d.check(id, "output", "pass", "a directory; its files are in diff.patch");
      if (isHandoff) {
        d.find(
          "REVIEW_HANDOFF_FORMAT",
          `handoff ${out.artifact} is a directory; a handoff artifact must be a file`,
          "repair",
        );
      }
      continue;
    }
    if (!rec.found || rec.path === null || rec.digest === null) {
      d.check(id, "output", "fail", "not found");
      d.find("REVIEW_MISSING_OUTPUT", `declared output ${out.artifact} was not produced`, "repair");
      continue;
    }
    const file = ev.read(rec.path);
    if (file.digest !== rec.digest) {
      throw reviewerErrors.create(
        "ERR_REVIEW_EVIDENCE_DIGEST",
        `output ${out.artifact} at ${rec.path} has digest ${file.digest}, its output record says ${rec.digest}`,
        { details: { path: rec.path, expected: rec.digest, actual: file.digest } },
      );
    }
    const text = file.bytes.toString("utf8");
    if (text.trim() === "") {
      d.check(id, "output", "fail", "empty");
      d.find("REVIEW_EMPTY_OUTPUT", `declared output ${out.artifact} is empty`, "repair", [
        { path: rec.path, digest: file.digest, excerpt: null },
      ]);
      continue;
    }
    d.check(id, "output", "pass", `${file.bytes.length} bytes`);
    if (isHandoff) {
      const hc = checkHandoff(out.format, text, out.required_fields ?? []);
      const hid = `handoff:${out.artifact}`;
      if (hc.formatError) {
        d.check(hid, "handoff", "fail", hc.formatError);
        d.find(
          "REVIEW_HANDOFF_FORMAT",
          `handoff ${out.artifact} is not valid ${out.format}: ${hc.formatError}`,
          "repair",
          [{ path: rec.path, digest: file.digest, excerpt: tail(text, 20, 1500) }],
        );
      } else if (hc.missing.length > 0) {
        d.check(hid, "handoff", "fail", `missing required fields: ${hc.missing.join(", ")} (${hc.method})`);
        d.find(
          "REVIEW_HANDOFF_FIELDS_MISSING",
          `handoff ${out.artifact} lacks required field(s) ${hc.missing.join(", ")}`,
          "repair",
          [{ path: rec.path, digest: file.digest, excerpt: tail(text, 20, 1500) }],
        );
      } else {
        d.check(hid, "handoff", "pass", `${out.format ?? "text"}; required fields present (${hc.method})`);
        if (isSafeRelative(out.artifact)) {
          handoffs.push({
            artifact: out.artifact,
            path: rec.path,
            digest: file.digest,
            bytes: file.bytes.length,
          });
        }
      }
    }
    if (out.validation_command !== undefined) {
      const ran = attempt.checks.filter((c) => c.kind === "validation" && c.source === out.artifact);
      if (ran.length === 0) {
        d.check(`validation:${out.artifact}`, "validation", "fail", "the validation command was not run");
        d.find(
          "REVIEW_CHECK_NOT_RUN",
          `the validation command of ${out.artifact} (${out.validation_command}) has no recorded result`,
          "human",
        );
      }
    }
  }

  // 3. Validation and verification commands DWM ran itself after the work was committed.
  for (const c of attempt.checks) {
    falsifiers++;
    const id = `${c.kind}:${c.id}`;
    if (c.passed) {
      d.check(id, c.kind, "pass", `${c.command} exited ${c.exit_code}`);
      continue;
    }
    const how = c.timed_out ? "timed out" : c.signal ? `was killed by ${c.signal}` : `exited ${c.exit_code}`;
    d.check(id, c.kind, "fail", `${c.command} ${how}`);
    d.find(
      c.kind === "validation" ? "REVIEW_VALIDATION_FAILED" : "REVIEW_VERIFICATION_FAILED",
      `${c.kind} of ${c.source}: \`${c.command}\` ${how}`,
      "repair",
      [ev.tailEvidence(c.stdout), ev.tailEvidence(c.stderr)],
    );
  }
  if (packet.command !== undefined) falsifiers++;

  // 4. Permissions: what the executor enforced, and read-only work that changed files.
  const mapped: Record<string, [string, Effect]> = {
    "read-only-violation": ["REVIEW_READ_ONLY_VIOLATION", "repair"],
    "ownership-violation": ["REVIEW_OWNERSHIP_VIOLATION", "repair"],
    "output-missing": ["REVIEW_MISSING_OUTPUT", "repair"],
    "secret-in-work": ["REVIEW_SECRET_IN_WORK", "human"],
  };
  for (const f of attempt.findings) {
    const [code, effect] = mapped[f.code] ?? ["REVIEW_EXECUTOR_FINDING", "human"];
    if (code === "REVIEW_MISSING_OUTPUT" && d.findings.some((x) => x.code === code)) continue;
    d.check(`executor:${f.code}`, "permissions", "fail", f.message);
    d.find(code, `${f.message}${f.paths.length ? ` (${f.paths.join(", ")})` : ""}`, effect, [
      { path: null, digest: null, excerpt: lineExcerpt(f.paths) },
    ]);
  }
  const writers = packet.workers.filter((w) => w.tool_permissions.write);
  // As the executor enforces it: a read-only packet may still produce its declared outputs.
  const declared = new Set(packet.outputs.map((o) => path.posix.normalize(o.artifact)));
  const changed = attempt.changed_files.map((f) => f.path).filter((p) => !declared.has(p));
  if (
    writers.length === 0 &&
    changed.length > 0 &&
    !d.findings.some((f) => f.code === "REVIEW_READ_ONLY_VIOLATION")
  ) {
    d.check("permissions:read-only", "permissions", "fail", `${changed.length} file(s) changed`);
    d.find(
      "REVIEW_READ_ONLY_VIOLATION",
      `no worker of this packet may write, yet ${changed.length} file(s) changed`,
      "repair",
      [{ path: null, digest: null, excerpt: lineExcerpt(changed.slice(0, 20)) }],
    );
  } else if (
    !d.findings.some(
      (f) => f.code === "REVIEW_READ_ONLY_VIOLATION" || f.code === "REVIEW_OWNERSHIP_VIOLATION",
    )
  ) {
    d.check(
      "permissions",
      "permissions",
      "pass",
      writers.length ? "changes within ownership" : "read-only, nothing changed",
    );
  }

  // 5. Test weakening and edits to the checks that judge the work, from diff.patch.
  const diffText = attempt.diff === null ? null : ev.text(attempt.diff);
  if (diffText) {
    const files = parseDiff(diffText.text);
    diffSummary = summarise(files);
    const owned = writableOwnership(packet);
    const suspicious: { code: string; path: string; message: string; lines: string[] }[] =
      findTestWeakening(files);
    const judges = new Set<string>();
    for (const c of attempt.checks)
      for (const p of scriptPathsOf(c.argv.length ? c.argv : c.command)) judges.add(p);
    for (const o of packet.outputs)
      if (o.validation_command) for (const p of scriptPathsOf(o.validation_command)) judges.add(p);
    // The packet's own outputs are its work, never its judges.
    for (const o of packet.outputs) judges.delete(o.artifact.replace(/^\.\//, ""));
    for (const f of files) {
      for (const p of new Set([f.path, f.oldPath])) {
        if (judges.has(p)) {
          suspicious.push({
            code: "REVIEW_CHECK_EDITED",
            path: p,
            message: `${p}, a script of this packet's own validation or verification, was ${f.status}`,
            lines: [...f.removed.map((l) => `-${l}`), ...f.added.map((l) => `+${l}`)].slice(0, 20),
          });
        }
      }
    }
    if (suspicious.length === 0)
      d.check("tests", "tests", "pass", `${files.length} changed file(s); no test weakening found`);
    for (const s of suspicious) {
      const cov = coverage(owned, s.path);
      const evidence = [{ path: diffText.path, digest: diffText.digest, excerpt: lineExcerpt(s.lines) }];
      if (cov === "exact") {
        d.check(
          `tests:${s.code}:${s.path}`,
          "tests",
          "pass",
          `${s.message}; the packet's ownership names ${s.path} exactly`,
        );
      } else if (cov === "broad") {
        d.check(
          `tests:${s.code}:${s.path}`,
          "tests",
          "fail",
          `${s.message}; covered only by a broader ownership entry`,
        );
        d.find(
          s.code,
          `${s.message}; the packet's ownership covers it only broadly, so a human must judge it`,
          "human",
          evidence,
        );
      } else {
        d.check(`tests:${s.code}:${s.path}`, "tests", "fail", s.message);
        d.find(s.code, s.message, "repair", evidence);
      }
    }
  } else {
    d.check("tests", "tests", "skipped", "the attempt has no diff");
  }

  // 6. The optional reviewer worker tries to refute what the deterministic checks passed.
  if (options.runReviewerWorker && verdictOf(d) === "approved") {
    falsifiers++;
    const prompt = renderReviewerPrompt(packet, attempt, { checks: d.checks, diff: diffSummary });
    try {
      const r = await options.runReviewerWorker(prompt);
      if (!["approved", "changes-requested", "needs-human"].includes(r.verdict)) {
        throw new TypeError(`unknown verdict ${JSON.stringify(r.verdict)}`);
      }
      worker = { verdict: r.verdict, transcript: r.transcript, summary: r.summary ?? null };
      const ex = { path: null, digest: null, excerpt: r.summary ?? null };
      if (r.verdict === "approved") {
        d.check(
          "reviewer-worker",
          "reviewer-worker",
          "pass",
          "the reviewer worker could not refute the result",
        );
      } else if (r.verdict === "changes-requested") {
        d.check("reviewer-worker", "reviewer-worker", "fail", "the reviewer worker refuted the result");
        d.find(
          "REVIEW_WORKER_REFUTED",
          `the reviewer worker refuted the result${r.summary ? `: ${r.summary}` : ""}`,
          "repair",
          [ex],
        );
      } else {
        d.check("reviewer-worker", "reviewer-worker", "fail", "the reviewer worker asks for a human");
        d.find(
          "REVIEW_WORKER_NEEDS_HUMAN",
          `the reviewer worker asks for a human${r.summary ? `: ${r.summary}` : ""}`,
          "human",
          [ex],
        );
      }
    } catch (e) {
      const msg = isDwmError(e) ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);
      worker = { verdict: "unavailable", transcript: null, summary: msg };
      d.check("reviewer-worker", "reviewer-worker", "fail", `unavailable: ${msg}`);
      d.find("REVIEW_WORKER_UNAVAILABLE", `the reviewer worker could not give a verdict: ${msg}`, "human");
    }
  }

  // 7. Nothing could have falsified the result: never approve on the worker's word alone.
  if (falsifiers === 0 && verdictOf(d) === "approved") {
    if (options.unverifiable === "approve") {
      d.check(
        "falsifiable",
        "falsifiable",
        "skipped",
        "nothing could falsify the result; approved by option",
      );
    } else {
      d.check("falsifiable", "falsifiable", "fail", "no checkable output, check, command or reviewer worker");
      d.find(
        "REVIEW_UNVERIFIABLE",
        "nothing in the evidence can falsify the result (no checkable output, no validation or verification result, no reviewer worker); a human must look",
        "human",
      );
    }
  } else if (falsifiers > 0) {
    d.check("falsifiable", "falsifiable", "pass", `${falsifiers} falsifying check(s)`);
  }
  return finish();
}

function isSafeRelative(p: string): boolean {
  try {
    return checkRelativePath(p, "handoff artifact") === p;
  } catch {
    return false;
  }
}

function summarise(files: DiffFile[]): NonNullable<Review["diff"]> {
  const rows = files.map((f) => ({
    path: f.status === "deleted" ? f.oldPath : f.path,
    status: f.status,
    added: f.added.length,
    removed: f.removed.length,
  }));
  return {
    files: rows,
    added: rows.reduce((n, r) => n + r.added, 0),
    removed: rows.reduce((n, r) => n + r.removed, 0),
  };
}
