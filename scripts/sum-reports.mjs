// Sums the test reports of one CI run into one line: "N passed, N failed".
// Reads every package's vitest JSON report (.vitest-report.json), every package's manifest
// gate summary (gate-summary.json, kind manifest-summary: each case counts as one test), and
// the reports the repository-level checks write into .ci-reports/ (scripts/check-packages.mjs,
// scripts/release-smoke.mjs, scripts/check-turbo-cache.mjs with --report), which use the
// vitest fields.
// Usage: node scripts/sum-reports.mjs [--expect name,name]
//   --expect: .ci-reports/<name>.json must exist; a missing one counts as a failure
//   (a check that crashed before writing its report must not pass silently).
//   Every package with a `gate` script must have written its gate-summary.json; a missing
//   one counts as a failure too (the gate deletes it before it runs, so a crash leaves none).
// Exits 1 when any test or gate case failed, any suite failed to load, an expected report or
// gate summary is missing or unreadable, or no report was found at all.
import fs from "node:fs";
import path from "node:path";

const args = process.argv.slice(2);
const expectAt = args.indexOf("--expect");
const expected = expectAt >= 0 ? (args[expectAt + 1] ?? "").split(",").filter(Boolean) : [];

const roots = ["packages", "schemas", "bench"];
const GATE_SUMMARY = "gate-summary.json";
const reports = [];
const gateSummaries = [];
function walk(dir, depth) {
  if (!fs.existsSync(dir) || depth > 2) return;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name === "node_modules") continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, depth + 1);
    else if (e.name === ".vitest-report.json") reports.push(p);
    else if (e.name === GATE_SUMMARY) gateSummaries.push(p);
  }
}

/** Package folders whose package.json has a `gate` script: each must leave a gate summary. */
function gatedPackages() {
  const out = [];
  for (const r of roots) {
    const dirs = r === "packages" && fs.existsSync(r) ? fs.readdirSync(r).map((d) => path.join(r, d)) : [r];
    for (const d of dirs) {
      const file = path.join(d, "package.json");
      if (!fs.existsSync(file)) continue;
      if (JSON.parse(fs.readFileSync(file, "utf8")).scripts?.gate) out.push(d);
    }
  }
  return out.sort();
}
for (const r of roots) walk(r, 0);
const ciReports = ".ci-reports";
if (fs.existsSync(ciReports)) {
  for (const f of fs.readdirSync(ciReports).sort()) {
    if (f.endsWith(".json")) reports.push(path.join(ciReports, f));
  }
}

let passed = 0;
let failed = 0;
for (const file of reports.sort()) {
  const label = file.startsWith(ciReports) ? path.basename(file, ".json") : path.dirname(file);
  let r;
  try {
    r = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    console.log(`${label.padEnd(28)} unreadable report (${e.message}): counted as 1 failed`);
    failed += 1;
    continue;
  }
  // A test file that fails to load counts as a failed suite with no failed tests.
  const broken = (r.testResults ?? []).filter(
    // (or whose beforeAll failed: vitest reports its tests as skipped, none as failed)
    (t) => t.status === "failed" && !(t.assertionResults ?? []).some((a) => a.status === "failed"),
  ).length;
  passed += r.numPassedTests ?? 0;
  failed += (r.numFailedTests ?? 0) + broken;
  console.log(
    `${label.padEnd(28)} ${r.numPassedTests ?? 0} passed, ${r.numFailedTests ?? 0} failed${broken ? `, ${broken} suite(s) failed to load` : ""}`,
  );
}
for (const file of gateSummaries.sort()) {
  const label = `${path.dirname(file)} gate`;
  let s;
  try {
    s = JSON.parse(fs.readFileSync(file, "utf8"));
    if (s.kind !== "manifest-summary") throw new Error(`kind ${s.kind}, not manifest-summary`);
  } catch (e) {
    console.log(`${label.padEnd(28)} unreadable gate summary (${e.message}): counted as 1 failed`);
    failed += 1;
    continue;
  }
  // A kill with no failed case (it cannot happen today) still fails the run.
  const bad = s.failed + (s.decision !== "keep" && s.failed === 0 ? 1 : 0);
  passed += s.passed;
  failed += bad;
  console.log(
    `${label.padEnd(28)} ${s.passed} passed, ${s.failed} failed of ${s.case_count} cases → ${s.decision}`,
  );
}
for (const dir of gatedPackages()) {
  if (!fs.existsSync(path.join(dir, GATE_SUMMARY))) {
    console.log(`${`${dir} gate`.padEnd(28)} no ${GATE_SUMMARY} (the gate did not run): counted as 1 failed`);
    failed += 1;
  }
}
for (const name of expected) {
  if (!fs.existsSync(path.join(ciReports, `${name}.json`))) {
    console.log(`${name.padEnd(28)} no report (${ciReports}/${name}.json): counted as 1 failed`);
    failed += 1;
  }
}
if (reports.length === 0 && gateSummaries.length === 0) {
  console.log("no test reports found");
  failed += 1;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
