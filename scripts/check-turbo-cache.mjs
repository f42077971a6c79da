// Turbo's cache must never hide a broken fixture (issue 19). In a scratch copy of this
// checkout (its own git repository, so its own turbo cache, and the checkout is never
// touched), this script:
//   1. runs two gates twice: the second run must come from the cache (a warm cache);
//   2. breaks one case in each gate's fixtures/<package>/manifest.json: the gates must run
//      again and fail (decision kill), not replay "keep" from the cache;
//   3. restores the manifests: the gates pass from the cache again;
//   4. changes every file a test or gate reads outside its package (fixtures, docs/errors.md,
//      examples/, skill/, schemas/, vitest.shared.js) and asks turbo (--dry=json) for the task
//      hashes: every task that reads a changed file must get a new hash;
//   5. checks that the tasks that read ../shared reference plans at run time are uncacheable.
// Usage: node scripts/check-turbo-cache.mjs [--report FILE] [--keep]
//   --report: write the results for scripts/sum-reports.mjs; --keep: leave the copy for a look.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { argValue, createReport } from "./ci-lib.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const reportFile = argValue(process.argv, "--report");
const report = createReport("check-turbo-cache");
const turboBin = path.join(root, "node_modules", ".bin", "turbo");
const env = {
  ...process.env,
  TURBO_TELEMETRY_DISABLED: "1",
  TURBO_NO_UPDATE_NOTIFIER: "1",
  TURBO_UI: "false",
};
// Inside `turbo run` (pnpm test), turbo's own variables would point the nested run at the outer one.
for (const k of Object.keys(env))
  if (
    k.startsWith("TURBO_") &&
    !["TURBO_TELEMETRY_DISABLED", "TURBO_NO_UPDATE_NOTIFIER", "TURBO_UI"].includes(k)
  )
    delete env[k];

/** The gates run for real; two are enough to prove the cache keys on fixture bytes. */
const RUN_GATES = ["plan-evaluator", "scheduler"];
/** Every gate whose task hash must follow its manifest. */
const GATES = [
  "plan-evaluator",
  "compiler",
  "executor",
  "runtime",
  "scheduler",
  "reviewer",
  "ingester",
  "gate-resolver",
  "dispatcher",
  "cli",
];
/** Files read from outside a package, and the tasks that read them. */
const READS = {
  "docs/errors.md": ["@dwm/cli#test"],
  "examples/README.md": ["@dwm/cli#test", "@dwm/dispatcher#test"],
  "fixtures/compiler/plans/pipeline.workflow.plan.json": [
    "@dwm/cli#test",
    "@dwm/compiler#test",
    "@dwm/compiler#gate",
  ],
  "fixtures/plan-evaluator/plans/activate-pipeline-audit.json": ["@dwm/cli#test", "@dwm/plan-evaluator#test"],
  "skill/SKILL.md": ["@dwm/plan-evaluator#test", "@dwm/cli#test"],
  "schemas/examples/packet/valid/inventory.json": ["@dwm/scheduler#test", "@dwm/runtime#test"],
  "schemas/run.schema.json": ["@dwm/runtime#test", "@dwm/runtime#gate", "@dwm/cli#gate"],
  "vitest.shared.js": ["@dwm/core#test", "@dwm/executor#test", "@dwm/reviewer#test"],
};
/** Tasks that read ../shared/reference-plans at run time: turbo cannot hash those, so no cache. */
const UNCACHEABLE = [
  "@dwm/plan-evaluator#test",
  "@dwm/compiler#test",
  "@dwm/compiler#gate",
  "@dwm/bench#test",
];

function copyCheckout(to) {
  const files = execFileSync("git", ["ls-files", "-z", "-co", "--exclude-standard"], { cwd: root })
    .toString("utf8")
    .split("\0")
    .filter(Boolean);
  for (const rel of files) {
    const from = path.join(root, rel);
    if (!fs.existsSync(from)) continue; // deleted in the work tree, not yet in the index
    fs.mkdirSync(path.dirname(path.join(to, rel)), { recursive: true });
    fs.cpSync(from, path.join(to, rel), { verbatimSymlinks: true });
  }
  // Installed dependencies and builds, as they are: the copy runs gates with --only (no build).
  fs.symlinkSync(path.join(root, "node_modules"), path.join(to, "node_modules"));
  for (const dir of [
    "schemas",
    "bench",
    ...fs.readdirSync(path.join(root, "packages")).map((d) => `packages/${d}`),
  ]) {
    for (const sub of ["node_modules", "dist"]) {
      const from = path.join(root, dir, sub);
      if (fs.existsSync(from))
        fs.cpSync(from, path.join(to, dir, sub), { recursive: true, verbatimSymlinks: true });
    }
  }
  const git = (...args) =>
    execFileSync("git", ["-c", "user.name=check", "-c", "user.email=check@dwm.invalid", ...args], {
      cwd: to,
      stdio: "ignore",
    });
  git("init", "-q", "-b", "main");
  git("add", "-A");
  git("commit", "-q", "--no-verify", "-m", "copy for check-turbo-cache");
}

function turbo(cwd, args) {
  const r = spawnSync(turboBin, args, { cwd, env, encoding: "utf8", maxBuffer: 1 << 26 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function runGates(cwd) {
  return turbo(cwd, ["run", "gate", "--only", "--continue", ...RUN_GATES.map((g) => `--filter=@dwm/${g}`)]);
}

const hit = (out, g) => out.includes(`@dwm/${g}:gate: cache hit`);
const verdict = (out, g) =>
  new RegExp(`${g} manifest \\S+: \\d+/\\d+ passed.*→ (keep|kill)`).exec(out)?.[1] ?? "none";

function hashes(cwd) {
  const r = turbo(cwd, ["run", "test", "gate", "--dry=json"]);
  const doc = JSON.parse(r.out.slice(r.out.indexOf("{")));
  return Object.fromEntries(
    doc.tasks.map((t) => [t.taskId, { hash: t.hash, cache: t.resolvedTaskDefinition.cache !== false }]),
  );
}

/** Break one case: flip the first case's first expectation to a value it cannot have. */
function breakManifest(file) {
  const m = JSON.parse(fs.readFileSync(file, "utf8"));
  const expect = m.cases[0].expect;
  const key = Object.keys(expect).find((k) => k !== "digests");
  expect[key] = { broken: "by check-turbo-cache" };
  fs.writeFileSync(file, `${JSON.stringify(m, null, 2)}\n`);
}

function touch(file) {
  const text = fs.readFileSync(file, "utf8");
  fs.writeFileSync(file, file.endsWith(".js") ? `${text}\n// touched\n` : `${text}\n`);
}

function checkRuns(copy) {
  const cold = runGates(copy);
  report.add("the gates pass in the copy", cold.status === 0, cold.out.slice(-4000));
  const warm = runGates(copy);
  for (const g of RUN_GATES)
    report.add(
      `${g} gate: the second run replays from the cache`,
      warm.status === 0 && hit(warm.out, g),
      warm.out.slice(-4000),
    );

  const manifests = RUN_GATES.map((g) => path.join(copy, "fixtures", g, "manifest.json"));
  const saved = manifests.map((f) => fs.readFileSync(f));
  manifests.forEach(breakManifest);
  const broken = runGates(copy);
  for (const g of RUN_GATES) {
    const ok = broken.status !== 0 && !hit(broken.out, g) && verdict(broken.out, g) === "kill";
    report.add(`${g} gate: a broken case on a warm cache runs again and fails`, ok, broken.out.slice(-4000));
  }
  for (const [i, f] of manifests.entries()) fs.writeFileSync(f, saved[i]);
  const restored = runGates(copy);
  for (const g of RUN_GATES) {
    const ok = restored.status === 0 && hit(restored.out, g) && verdict(restored.out, g) === "keep";
    report.add(`${g} gate: the restored manifest passes from the cache again`, ok, restored.out.slice(-4000));
  }
}

function checkHashes(copy) {
  const before = hashes(copy);
  for (const g of GATES) touch(path.join(copy, "fixtures", g, "manifest.json"));
  for (const rel of Object.keys(READS)) touch(path.join(copy, rel));
  const after = hashes(copy);
  const follows = (task) => before[task] !== undefined && before[task].hash !== after[task]?.hash;
  for (const g of GATES)
    report.add(
      `@dwm/${g}#gate hashes fixtures/${g}/manifest.json`,
      follows(`@dwm/${g}#gate`),
      JSON.stringify(before[`@dwm/${g}#gate`]),
    );
  for (const [rel, tasks] of Object.entries(READS)) {
    for (const t of tasks) report.add(`${t} hashes ${rel}`, follows(t), JSON.stringify(before[t]));
  }
  for (const t of UNCACHEABLE)
    report.add(
      `${t} (reads ../shared reference plans) is not cached`,
      before[t]?.cache === false,
      JSON.stringify(before[t]),
    );
}

const copy = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "dwm-turbo-cache-")));
try {
  copyCheckout(copy);
  checkRuns(copy);
  checkHashes(copy);
} catch (e) {
  report.add("the check ran to the end", false, e instanceof Error ? (e.stack ?? e.message) : String(e));
} finally {
  if (process.argv.includes("--keep")) console.log(`copy kept at ${copy}`);
  else fs.rmSync(copy, { recursive: true, force: true });
}
for (const c of report.checks) {
  if (c.status === "failed") console.log(`FAIL ${c.title}\n${c.failureMessages.join("\n").slice(-2000)}`);
}
if (reportFile) report.write(path.resolve(reportFile));
console.log(`turbo cache checks: ${report.checks.length - report.failed} passed, ${report.failed} failed`);
process.exit(report.failed ? 1 : 0);
