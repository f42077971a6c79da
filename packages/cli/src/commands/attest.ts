import fs from "node:fs";
import path from "node:path";
import { OPERATORS_FILE, readOperators, resolveInside, signingErrors, writeFileAtomic } from "@dwm/core";
import { readJournal, verifyRun } from "@dwm/runtime";
import type { AttestResult, JournalEvent } from "@dwm/schemas";
import type { CommandContext, CommandResult, ParsedArgs } from "../command.js";
import { cliErrors } from "../errors.js";
import { repoRoot, resolveRun } from "../run-arg.js";

type Entry = AttestResult["bundles"][number];

/** The signed files a run's journal counts on, in journal order: approvals counted, packet attestations, run attestations. */
function signedFiles(
  events: readonly JournalEvent[],
): { file: string; kind: Entry["kind"]; keyId: string | null }[] {
  const out: { file: string; kind: Entry["kind"]; keyId: string | null }[] = [];
  for (const e of events) {
    const file = (e.data as { files?: { path: string }[] }).files?.[0]?.path;
    if (file === undefined) continue;
    if (e.type === "gate.approved" || e.type === "gate.rejected")
      out.push({ file, kind: "approval", keyId: null });
    else if (e.type === "attestation.recorded")
      out.push({
        file,
        kind: e.data.subject === "run" ? "run-attestation" : "packet-attestation",
        keyId: e.data.key_id,
      });
  }
  return out;
}

/**
 * `dwm attest <run> [--out FILE]`: every attestation of a run as one bundle file, JSON lines,
 * one Sigstore bundle per line (approvals, packet attestations, the run's). The run is
 * verified first: a store whose signatures or digests do not hold is not exported (exit 3).
 */
export async function run(args: ParsedArgs, ctx: CommandContext): Promise<CommandResult> {
  const outArg = typeof args.values.out === "string" ? args.values.out : null;
  // stdout holds one thing: the bundle, or (--json) the document naming the file it went to.
  if (args.json && outArg === null) {
    throw cliErrors.create(
      "ERR_CLI_USAGE",
      "attest: --json needs --out FILE (the bundle goes to the file, the document to stdout)",
      {
        hint: "dwm attest <run> --out bundle.jsonl --json; or without --json for the bundle itself on stdout.",
      },
    );
  }
  const r = resolveRun(args, ctx);
  const report = verifyRun(r.runDir);
  if (!report.ok) {
    const first = report.problems[0];
    throw signingErrors.create(
      "ERR_SIGNATURE_INVALID",
      `run ${r.runId} does not verify (${report.problems.length} problem(s); first: ${first?.code} ${first?.file}): nothing exported`,
      {
        hint: `Run \`dwm verify ${r.ref}\` for the full report.`,
        details: { problems: report.problems.slice(0, 10) },
      },
    );
  }
  const keyOf = new Map((report.signatures ?? []).map((s) => [s.file, s.key_id]));
  const lines: string[] = [];
  const bundles: Entry[] = [];
  for (const s of signedFiles(readJournal(r.runDir).events)) {
    const text = fs.readFileSync(resolveInside(r.runDir, s.file, "signed file"), "utf8");
    lines.push(JSON.stringify(JSON.parse(text)));
    bundles.push({
      file: s.file,
      kind: s.kind,
      key_id: (s.keyId ?? keyOf.get(s.file) ?? "") as Entry["key_id"],
    });
  }
  const used = new Set(bundles.map((b) => b.key_id));
  const operators = readOperators(path.join(repoRoot(r.runDir), OPERATORS_FILE));
  const keys = operators.keys.filter((k) => used.has(k.key_id));
  const body = lines.map((l) => `${l}\n`).join("");
  const out = outArg === null ? null : path.resolve(ctx.cwd, outArg);
  if (out !== null) writeFileAtomic(out, body);
  const doc: AttestResult = {
    kind: "attest-result",
    schema_version: "1",
    run_id: r.runId,
    out,
    bundles,
    keys,
  };
  if (out === null) return { exitCode: 0, output: body.trimEnd(), text: body.trimEnd() };
  const text = [
    `${bundles.length} signed bundle(s) of run ${r.runId} → ${out}`,
    ...keys.map((k) => `signed by ${k.name} (${k.key_id})`),
    `check them without DWM: scripts/verify-attestations.sh ${outArg ?? "<bundle>"} ${OPERATORS_FILE} ${path.relative(ctx.cwd, r.runDir) || "."}`,
  ].join("\n");
  return { exitCode: 0, output: doc, text };
}
