// Sums the test reports of one CI run into one line: "N passed, N failed".
// Reads every package's vitest JSON report (.vitest-report.json) and the reports the
// repository-level checks write into .ci-reports/ (scripts/check-packages.mjs,
// scripts/release-smoke.mjs with --report), which use the same fields.
// Usage: node scripts/sum-reports.mjs [--expect name,name]
//   --expect: .ci-reports/<name>.json must exist; a missing one counts as a failure
//   (a check that crashed before writing its report must not pass silently).
// Exits 1 when any test failed, any suite failed to load, an expected report is
// missing or unreadable, or no report was found at all.
import fs from "node:fs";
import path from "node:path";

const args = process.argv.slice(2);
const expectAt = args.indexOf("--expect");
const expected = expectAt >= 0 ? (args[expectAt + 1] ?? "").split(",").filter(Boolean) : [];

const roots = ["packages", "schemas", "bench"];
const reports = [];
function walk(dir, depth) {
  if (!fs.existsSync(dir) || depth > 2) return;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name === "node_modules") continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, depth + 1);
    else if (e.name === ".vitest-report.json") reports.push(p);
  }
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
    (t) => t.status === "failed" && (t.assertionResults ?? []).length === 0,
  ).length;
  passed += r.numPassedTests ?? 0;
  failed += (r.numFailedTests ?? 0) + broken;
  console.log(
    `${label.padEnd(28)} ${r.numPassedTests ?? 0} passed, ${r.numFailedTests ?? 0} failed${broken ? `, ${broken} suite(s) failed to load` : ""}`,
  );
}
for (const name of expected) {
  if (!fs.existsSync(path.join(ciReports, `${name}.json`))) {
    console.log(`${name.padEnd(28)} no report (${ciReports}/${name}.json): counted as 1 failed`);
    failed += 1;
  }
}
if (reports.length === 0) {
  console.log("no test reports found");
  failed += 1;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
