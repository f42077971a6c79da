// A check's results in the fields of a vitest JSON report, so scripts/sum-reports.mjs
// counts them with the package tests: { numPassedTests, numFailedTests, testResults }.
import fs from "node:fs";
import path from "node:path";

/** Collects named checks; `write(file)` stores them as a report (atomically: temp file + rename). */
export function createReport(suite) {
  const checks = [];
  return {
    checks,
    add(title, ok, detail = "") {
      checks.push({ title, status: ok ? "passed" : "failed", failureMessages: ok ? [] : [detail] });
      return ok;
    },
    get failed() {
      return checks.filter((c) => c.status === "failed").length;
    },
    write(file) {
      const failed = this.failed;
      const report = {
        numPassedTests: checks.length - failed,
        numFailedTests: failed,
        testResults: [{ name: suite, status: failed ? "failed" : "passed", assertionResults: checks }],
      };
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, `${JSON.stringify(report, null, 2)}\n`);
      fs.renameSync(tmp, file);
    },
  };
}

/** The value after `--name` in argv, or undefined. */
export function argValue(argv, name) {
  const i = argv.indexOf(name);
  if (i < 0) return undefined;
  const v = argv[i + 1];
  if (v === undefined || v.startsWith("--")) {
    console.error(`${name} needs a value`);
    process.exit(2);
  }
  return v;
}
