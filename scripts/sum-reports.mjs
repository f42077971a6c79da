// Sums the vitest JSON reports of every package into one line: "N passed, N failed".
// Exits 1 when any test failed, any suite failed to load, or no report was found.
import fs from "node:fs";
import path from "node:path";

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

let passed = 0;
let failed = 0;
let suiteFailures = 0;
for (const file of reports.sort()) {
  const r = JSON.parse(fs.readFileSync(file, "utf8"));
  passed += r.numPassedTests ?? 0;
  failed += r.numFailedTests ?? 0;
  // A test file that fails to load counts as a failed suite with no failed tests.
  const broken = (r.testResults ?? []).filter(
    (t) => t.status === "failed" && (t.assertionResults ?? []).length === 0,
  ).length;
  suiteFailures += broken;
  console.log(
    `${path.dirname(file).padEnd(28)} ${r.numPassedTests ?? 0} passed, ${r.numFailedTests ?? 0} failed${broken ? `, ${broken} suite(s) failed to load` : ""}`,
  );
}
failed += suiteFailures;
if (reports.length === 0) {
  console.log("no test reports found");
  failed += 1;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
