// Helpers of the repository-level CI scripts (check-packages, release-smoke).
import fs from "node:fs";
import path from "node:path";

/** The directories of the workspace's public packages: schemas/ and packages/* without `private`. */
export function publicPackageDirs(root) {
  const dirs = [path.join(root, "schemas")];
  for (const d of fs.readdirSync(path.join(root, "packages")).sort()) {
    if (fs.existsSync(path.join(root, "packages", d, "package.json")))
      dirs.push(path.join(root, "packages", d));
  }
  return dirs.filter((dir) => !JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).private);
}

/** `export const NAME_VERSION = "x.y.z";` in a package's src/version.ts: a copy of package.json's version. */
const VERSION_CONSTANT = /^(export const [A-Z_]+_VERSION = ")([^"]*)(";)$/gm;

/**
 * The version constants of every workspace package (src/version.ts) that are not its
 * package.json version: [{ file, name, found, version }]. With `fix`, rewrites them.
 */
export function staleVersionConstants(root, { fix = false } = {}) {
  const stale = [];
  const dirs = [
    path.join(root, "schemas"),
    ...fs.readdirSync(path.join(root, "packages")).map((d) => path.join(root, "packages", d)),
  ];
  for (const dir of dirs) {
    const file = path.join(dir, "src/version.ts");
    if (!fs.existsSync(file) || !fs.existsSync(path.join(dir, "package.json"))) continue;
    const { version } = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
    const text = fs.readFileSync(file, "utf8");
    for (const m of text.matchAll(VERSION_CONSTANT)) {
      if (m[2] !== version)
        stale.push({ file: path.relative(root, file), name: m[1].split(" ")[2], found: m[2], version });
    }
    if (fix && stale.some((s) => s.file === path.relative(root, file))) {
      fs.writeFileSync(
        file,
        text.replace(VERSION_CONSTANT, (_, a, _v, b) => `${a}${version}${b}`),
      );
    }
  }
  return stale;
}

// A check's results in the fields of a vitest JSON report, so scripts/sum-reports.mjs
// counts them with the package tests: { numPassedTests, numFailedTests, testResults }.

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
