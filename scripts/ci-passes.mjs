// The test passes of one CI run, one per Node.js version (.ci/run), summed.
//
//   node scripts/ci-passes.mjs record <pass> <sum-file>
//     After a pass: reads the closing "N passed, N failed" line scripts/sum-reports.mjs printed for
//     it (saved in <sum-file>), counts the skipped tests in the pass's reports (vitest's pending
//     and todo tests, gates' skipped cases: only the parts a user left out with DWM_TEST_SKIP may
//     be skipped), notes the
//     Node version running this script (the pass's, first on PATH), and moves the reports into
//     .ci-reports/passes/<pass>/ so the next pass starts with none and sum-reports sees only its own.
//   node scripts/ci-passes.mjs total <pass>,<pass>,...
//     At the end: one line per pass with its Node version and totals, then the closing line
//     "N passed, N failed" over every pass (after a line with the skipped count). A pass with no record (it crashed before
//     recording) counts as 1 failed. Exits 1 when anything failed.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const reportsDir = path.join(repo, ".ci-reports");
const passesDir = path.join(reportsDir, "passes");

/**
 * The reports where scripts/sum-reports.mjs finds them in packages/*, schemas and bench: vitest's
 * (.vitest-report.json) and the manifest gates' (gate-summary.json).
 */
function packageReports() {
  const found = [];
  const walk = (dir, depth) => {
    if (!fs.existsSync(dir) || depth > 2) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.name === "node_modules") continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p, depth + 1);
      else if (e.name === ".vitest-report.json" || e.name === "gate-summary.json") found.push(p);
    }
  };
  for (const r of ["packages", "schemas", "bench"]) walk(path.join(repo, r), 0);
  return found;
}

/** Skipped tests in one report (vitest: pending and todo; a manifest gate: skipped cases). */
function skippedIn(file) {
  try {
    const r = JSON.parse(fs.readFileSync(file, "utf8"));
    if (r.kind === "manifest-summary") return r.skipped ?? 0;
    return (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  } catch {
    return 0; // an unreadable report is sum-reports' failure to count
  }
}

/** The totals of the closing line of sum-reports' output, or null. */
function closingLine(text) {
  const lines = text.trimEnd().split("\n");
  const m = /^(\d+) passed, (\d+) failed$/.exec(lines[lines.length - 1]?.trim() ?? "");
  return m ? { passed: Number(m[1]), failed: Number(m[2]) } : null;
}

function record(pass, sumFile) {
  if (!/^[\w.-]+$/.test(pass ?? "") || !sumFile) usage();
  const dest = path.join(passesDir, pass);
  fs.rmSync(dest, { recursive: true, force: true });
  fs.mkdirSync(dest, { recursive: true });
  const text = fs.existsSync(sumFile) ? fs.readFileSync(sumFile, "utf8") : "";
  const totals = closingLine(text);
  let skipped = 0;
  const moves = [
    ...packageReports().map((f) => [f, path.join(dest, path.relative(repo, f))]),
    ...(fs.existsSync(reportsDir)
      ? fs
          .readdirSync(reportsDir)
          .filter((f) => f.endsWith(".json"))
          .map((f) => [path.join(reportsDir, f), path.join(dest, f)])
      : []),
  ];
  for (const [from, to] of moves) {
    skipped += skippedIn(from);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.renameSync(from, to);
  }
  const summary = {
    pass,
    node: process.versions.node,
    passed: totals?.passed ?? 0,
    // No closing line: sum-reports crashed or never ran; the pass cannot count as green.
    failed: totals ? totals.failed : 1,
    skipped,
    note: totals ? undefined : `no "N passed, N failed" line in ${path.relative(repo, sumFile)}`,
  };
  fs.writeFileSync(path.join(dest, "pass.json"), `${JSON.stringify(summary, null, 2)}\n`);
}

function total(passes) {
  if (passes.length === 0) usage();
  const sum = { passed: 0, failed: 0, skipped: 0 };
  const machineNode = process.versions.node;
  for (const pass of passes) {
    const file = path.join(passesDir, pass, "pass.json");
    if (!fs.existsSync(file)) {
      console.log(`${pass}: no record (the pass did not finish): counted as 1 failed`);
      sum.failed += 1;
      continue;
    }
    const p = JSON.parse(fs.readFileSync(file, "utf8"));
    const whose = p.node === machineNode ? " (this machine's)" : "";
    const note = p.note ? ` (${p.note})` : "";
    console.log(
      `node ${p.node}${whose}: ${p.passed} passed, ${p.failed} failed, ${p.skipped} skipped${note}`,
    );
    sum.passed += p.passed;
    sum.failed += p.failed;
    sum.skipped += p.skipped;
  }
  // CI reads the last line as "N passed, N failed": the skipped count goes on the line before.
  console.log(`skipped over all passes: ${sum.skipped}`);
  console.log(`${sum.passed} passed, ${sum.failed} failed`);
  process.exit(sum.failed > 0 ? 1 : 0);
}

function usage() {
  console.error("usage: ci-passes.mjs record <pass> <sum-file> | ci-passes.mjs total <pass>,<pass>,...");
  process.exit(2);
}

const [cmd, ...rest] = process.argv.slice(2);
if (cmd === "record") record(rest[0], rest[1]);
else if (cmd === "total") total((rest[0] ?? "").split(",").filter(Boolean));
else usage();
