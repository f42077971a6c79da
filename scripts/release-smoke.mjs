#!/usr/bin/env node
// Release smoke test: publish every public package to a throw-away local registry through
// the real release path, then use the packages as a user meets them, from empty directories
// outside the workspace.
//
//   registry  Verdaccio 6.8.0 (tools/verdaccio, installed with `npm ci` when missing), run in
//             this process on 127.0.0.1 with a random port, storage in a temporary directory,
//             no uplinks. The @dwm scope maps to it; third-party dependencies (ajv, execa, ...)
//             come from the normal npm registry, as they do for a user. npm and npx run with a
//             temporary user config and an empty cache, so nothing cached from an earlier run
//             (or the machine's ~/.npmrc) takes part.
//   release   `git clone` of the committed HEAD (never the working tree), `pnpm install
//             --frozen-lockfile`, a changeset bumping every public package (patch), `pnpm
//             version-packages` (changelogs, versions, src/version.ts constants), then `pnpm
//             release` (turbo build, test, gate, then `changeset publish`) with the @dwm scope
//             on the local registry.
//             With --tests-ran-on <sha> (what .ci/run passes after its own `pnpm test` of the
//             same commit), the test suite is not run a second time: the script checks that
//             the clone's HEAD is <sha> and that the root `release` script is still
//             `turbo run build test gate && changeset publish`, then runs its two halves
//             without the tests that already ran: `turbo run build` and `changeset publish`.
//   user      1. `npm i -g @dwm/cli` (into a temporary prefix) and `npx @dwm/cli`: --version;
//                status in a fresh git repository without a run (exit 1, ERR_CLI_NO_RUNS and a
//                hint, DESIGN.md's exit codes) and in one where `npx @dwm/cli compile` made a
//                run (exit 0, the run and its packets);
//             2. a new npm project (`npm init -y`) installs only @dwm/compiler and compiles the
//                compiler README's example plan through compilePlan/loadRun, getting the run id
//                and packets the README shows; only the declared @dwm dependencies are installed;
//             3. the same for @dwm/plan-evaluator from plain JavaScript (ESM, no TypeScript),
//                giving the problems its README shows.
//             Every line of the root README's Install block and the package READMEs' install
//             lines of the CLI, compiler and plan-evaluator must be among the commands run.
//
// Usage: node scripts/release-smoke.mjs [--tests-ran-on <sha>] [--report FILE] [--keep]
//   --report  write the results for scripts/sum-reports.mjs; --keep  keep the temporary directory.
// Exits 0 when every check passed, 1 otherwise (also on a crash, with the failing step's output).
import { spawn } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { argValue, createReport, publicPackageDirs } from "./ci-lib.mjs";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const keep = argv.includes("--keep");
const testsRanOn = argValue(argv, "--tests-ran-on");
const reportFile = argValue(argv, "--report");
const RELEASE_SCRIPT = "turbo run build test gate && changeset publish";
const report = createReport("release-smoke");
const work = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "dwm-release-smoke-")));
const started = Date.now();
/** Every command run as a user would type it, for the README check. */
const userCommands = new Set();
let server;
let current; // the child process running now, killed on a signal

function log(msg) {
  console.log(`[release-smoke] ${msg}`);
}

/** Records a check; `detail` is printed in full on failure, and on success only when it is one short line. */
function check(name, ok, detail = "") {
  report.add(name, ok, detail);
  const shown = ok && (detail.includes("\n") || detail.length > 200) ? "" : detail;
  log(`${ok ? "ok  " : "FAIL"} ${name}${shown ? ` — ${shown}` : ""}`);
  return ok;
}

function tail(text, lines = 40) {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/**
 * Runs a command in its own process group, output captured; resolves { status, stdout, stderr }.
 * Throws (with the output's tail) when it fails, unless allowFail; kills the group on timeout.
 */
function run(cmd, args, { cwd, env, timeoutMs = 10 * 60_000, allowFail = false } = {}) {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: env ?? process.env, detached: true });
    current = child;
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      stderr += `\n[release-smoke] timed out after ${timeoutMs / 1000} s`;
      killGroup(child);
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} could not start: ${e.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      current = undefined;
      const r = { status: code ?? 1, signal, stdout, stderr, seconds: (Date.now() - t0) / 1000 };
      if (r.status !== 0 && !allowFail) {
        reject(
          new Error(
            `\`${cmd} ${args.join(" ")}\` in ${cwd ?? process.cwd()} exited ${code ?? signal}:\n${tail(stdout + stderr)}`,
          ),
        );
      } else resolve(r);
    });
  });
}

function killGroup(child) {
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** Environment without npm/pnpm settings inherited from a parent `pnpm run`, plus `extra`. */
function cleanEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(npm_|pnpm_)/i.test(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

async function startRegistry() {
  const tools = path.join(repo, "tools/verdaccio");
  if (!fs.existsSync(path.join(tools, "node_modules/verdaccio/package.json"))) {
    log("installing Verdaccio: npm ci --prefix tools/verdaccio");
    await run("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", tools]);
  }
  const dir = path.join(work, "registry");
  fs.mkdirSync(dir);
  const config = path.join(dir, "config.yaml");
  fs.writeFileSync(
    config,
    [
      `storage: ${JSON.stringify(path.join(dir, "storage"))}`,
      "uplinks: {}",
      "packages:",
      "  '@*/*': { access: $all, publish: $anonymous }",
      "  '**': { access: $all, publish: $anonymous }",
      "max_body_size: 50mb",
      "log: { type: stdout, format: pretty, level: error }",
      "",
    ].join("\n"),
  );
  const { runServer } = createRequire(path.join(tools, "package.json"))("verdaccio");
  server = await runServer(config);
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const url = `http://127.0.0.1:${server.address().port}/`;
  const ping = await fetch(`${url}-/ping`);
  if (!ping.ok) throw new Error(`Verdaccio at ${url} answers ${ping.status} to /-/ping`);
  return url;
}

function stopRegistry() {
  if (!server) return;
  server.closeAllConnections?.();
  server.close();
  server = undefined;
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Writes `source` to `dir/file` and runs it with node: { r, json } (json null when stdout is not JSON). */
async function nodeScript(dir, file, source, env) {
  fs.writeFileSync(path.join(dir, file), source);
  const r = await run("node", [file], { cwd: dir, env, allowFail: true });
  return { r, json: parseJson(r.stdout) };
}

async function packument(registry, name) {
  const r = await fetch(`${registry}${name.replace("/", "%2f")}`);
  return r.ok ? r.json() : null;
}

/** The lines of the first ```sh block after `heading` in a markdown file, comments removed. */
function installLines(file, heading) {
  const text = fs.readFileSync(file, "utf8");
  const at = text.indexOf(`\n${heading}\n`);
  if (at < 0) return null;
  const block = text.slice(at).match(/```sh\n([\s\S]*?)```/);
  if (!block) return null;
  return block[1]
    .split("\n")
    .map((l) => l.replace(/\s+#.*$/, "").trim())
    .filter(Boolean);
}

async function main() {
  const rel = path.relative(repo, work);
  if (!rel.startsWith("..") && !path.isAbsolute(rel))
    throw new Error(`temporary directory ${work} is inside ${repo}`);

  const registry = await startRegistry();
  const host = registry.replace(/^http:/, "");
  const npmrc = path.join(work, "npmrc");
  fs.writeFileSync(npmrc, `@dwm:registry=${registry}\n${host}:_authToken=release-smoke\n`);
  const env = cleanEnv({
    npm_config_userconfig: npmrc,
    npm_config_globalconfig: path.join(work, "global-npmrc"),
    npm_config_cache: path.join(work, "npm-cache"),
    npm_config_update_notifier: "false",
    npm_config_fund: "false",
    npm_config_audit: "false",
    npm_config_yes: "true",
    TURBO_TELEMETRY_DISABLED: "1",
    TURBO_NO_UPDATE_NOTIFIER: "1",
  });
  log(`registry ${registry} (Verdaccio, no uplinks), work dir ${work}`);

  // --- Release from a throw-away clone of the committed HEAD.
  const clone = path.join(work, "clone");
  await run("git", ["clone", "-q", repo, clone], { env });
  const head = (await run("git", ["-C", clone, "rev-parse", "HEAD"], { env })).stdout.trim();
  log(`clone of ${repo} at ${head}`);
  if (
    testsRanOn &&
    !check("--tests-ran-on names the cloned commit", testsRanOn === head, `${testsRanOn} vs ${head}`)
  ) {
    return;
  }
  await run("pnpm", ["install", "--frozen-lockfile", "--reporter=append-only"], { cwd: clone, env });
  const scoped = (await run("pnpm", ["config", "get", "@dwm:registry"], { cwd: clone, env })).stdout.trim();
  if (!check("the @dwm scope publishes to the local registry", scoped === registry, scoped)) return;

  const dirs = publicPackageDirs(clone);
  const names = dirs.map((d) => JSON.parse(fs.readFileSync(path.join(d, "package.json"), "utf8")).name);
  fs.writeFileSync(
    path.join(clone, ".changeset/release-smoke.md"),
    `---\n${names.map((n) => `"${n}": patch`).join("\n")}\n---\n\nRelease smoke test.\n`,
  );
  const v = await run("pnpm", ["version-packages"], { cwd: clone, env });
  log(`pnpm version-packages (${v.seconds.toFixed(0)} s)`);
  const versions = new Map();
  for (const d of dirs) {
    const pkg = JSON.parse(fs.readFileSync(path.join(d, "package.json"), "utf8"));
    versions.set(pkg.name, pkg.version);
    const changelog = path.join(d, "CHANGELOG.md");
    const text = fs.existsSync(changelog) ? fs.readFileSync(changelog, "utf8") : "";
    check(
      `version-packages: ${pkg.name} ${pkg.version} with a CHANGELOG entry`,
      text.includes(`\n## ${pkg.version}\n`) && text.includes("Release smoke test."),
    );
  }
  const left = fs
    .readdirSync(path.join(clone, ".changeset"))
    .filter((f) => f.endsWith(".md") && f !== "README.md");
  check("version-packages consumed every changeset", left.length === 0, left.join(", "));

  const rootPkg = JSON.parse(fs.readFileSync(path.join(clone, "package.json"), "utf8"));
  const releaseEnv = { ...env, "npm_config_@dwm:registry": registry };
  if (testsRanOn) {
    if (
      !check(
        "root release script is the one the split mirrors",
        rootPkg.scripts?.release === RELEASE_SCRIPT,
        rootPkg.scripts?.release,
      )
    ) {
      return;
    }
    const b = await run("pnpm", ["exec", "turbo", "run", "build", "--output-logs=errors-only"], {
      cwd: clone,
      env: releaseEnv,
    });
    log(`release, tests of ${head.slice(0, 12)} already ran: turbo run build (${b.seconds.toFixed(0)} s)`);
    const p = await run("pnpm", ["exec", "changeset", "publish"], { cwd: clone, env: releaseEnv });
    log(`changeset publish (${p.seconds.toFixed(0)} s)`);
  } else {
    // The test suites of @dwm/agent-contracts need the pinned agent CLIs (scripts/ci-setup.sh);
    // reuse this checkout's install when it has one.
    const clis = path.join(repo, "tools/agent-clis/node_modules");
    if (fs.existsSync(clis)) fs.symlinkSync(clis, path.join(clone, "tools/agent-clis/node_modules"));
    const setup = path.join(clone, "scripts/ci-setup.sh");
    if (fs.existsSync(setup)) await run(setup, [], { cwd: clone, env, timeoutMs: 20 * 60_000 });
    const r = await run("pnpm", ["release"], { cwd: clone, env: releaseEnv, timeoutMs: 40 * 60_000 });
    log(`pnpm release (${r.seconds.toFixed(0)} s)`);
  }

  for (const name of names) {
    const doc = await packument(registry, name);
    const version = versions.get(name);
    const meta = doc?.versions?.[version];
    const internal = Object.entries(meta?.dependencies ?? {}).filter(([d]) => d.startsWith("@dwm/"));
    const wrong = internal.filter(([d, range]) => range !== versions.get(d)).map(([d, r]) => `${d}@${r}`);
    check(
      `published ${name}@${version}, @dwm dependencies pinned to the released versions`,
      Boolean(meta) && doc["dist-tags"]?.latest === version && wrong.length === 0,
      meta ? wrong.join(", ") : "not in the registry",
    );
  }

  // --- 1. The CLI, installed globally and through npx, from empty directories.
  const cliVersion = versions.get("@dwm/cli");
  const user = (cwd, line, extraEnv = {}) => {
    userCommands.add(line);
    const [cmd, ...args] = line.split(" ");
    return run(cmd, args, { cwd, env: { ...env, ...extraEnv }, allowFail: true, timeoutMs: 5 * 60_000 });
  };
  const prefix = path.join(work, "global");
  const globalEnv = {
    npm_config_prefix: prefix,
    PATH: `${path.join(prefix, "bin")}${path.delimiter}${env.PATH}`,
  };
  const home = path.join(work, "home");
  fs.mkdirSync(home);
  const g = await user(home, "npm i -g @dwm/cli", globalEnv);
  check("npm i -g @dwm/cli", g.status === 0, tail(g.stderr, 5));
  const gv = await user(home, "dwm --version", globalEnv);
  check(
    "dwm --version (global install)",
    gv.status === 0 && gv.stdout.trim() === cliVersion,
    gv.stdout.trim(),
  );
  const nv = await user(home, "npx @dwm/cli --version");
  check(
    "npx @dwm/cli --version",
    nv.status === 0 && nv.stdout.trim() === cliVersion,
    nv.stdout.trim() || tail(nv.stderr, 5),
  );

  const git = (cwd, ...args) =>
    run("git", ["-c", "user.name=Smoke", "-c", "user.email=smoke@example.invalid", ...args], { cwd, env });
  const noRun = path.join(work, "repo-without-run");
  fs.mkdirSync(noRun);
  await git(noRun, "init", "-q", "-b", "main");
  const s0 = await user(noRun, "npx @dwm/cli status");
  check(
    "npx @dwm/cli status without a run: exit 1, ERR_CLI_NO_RUNS and a hint",
    s0.status === 1 &&
      s0.stderr.includes("ERR_CLI_NO_RUNS") &&
      /\bhint:/.test(s0.stderr) &&
      !/\n\s+at /.test(s0.stderr),
    `exit ${s0.status}: ${s0.stderr.trim().split("\n").join(" | ")}`,
  );

  // The compiler README's example plan, compiled by the published CLI.
  const compilerReadme = fs.readFileSync(path.join(clone, "packages/compiler/README.md"), "utf8");
  const planRel = compilerReadme.match(/Example \(the fixture plan `([^`]+)`\)/)?.[1];
  const expectRunId = compilerReadme.match(/c\.runId;\s*\/\/\s*"([^"]+)"/)?.[1];
  const expectPackets = compilerReadme.match(/c\.run\.packets\.map\(.*\);\s*\/\/\s*(\[.*\])/)?.[1];
  if (
    !check(
      "compiler README names its example plan, run id and packets",
      Boolean(planRel && expectRunId && expectPackets),
    )
  ) {
    return;
  }
  const packets = JSON.parse(expectPackets);
  const withRun = path.join(work, "repo-with-run");
  fs.mkdirSync(withRun);
  await git(withRun, "init", "-q", "-b", "main");
  fs.copyFileSync(path.join(clone, planRel), path.join(withRun, "workflow.plan.json"));
  await git(withRun, "add", "workflow.plan.json");
  await git(withRun, "commit", "-q", "-m", "plan");
  const c = await user(withRun, "npx @dwm/cli compile workflow.plan.json");
  check(
    "npx @dwm/cli compile workflow.plan.json",
    c.status === 0,
    c.status === 0 ? "" : `exit ${c.status}: ${tail(c.stderr, 5)}`,
  );
  const s1 = await user(withRun, "npx @dwm/cli status");
  const rows = packets.filter((p) => new RegExp(`^${p}\\s`, "m").test(s1.stdout));
  check(
    "npx @dwm/cli status with a compiled run prints the run and its packets",
    s1.status === 0 && s1.stdout.includes(`run ${expectRunId} `) && rows.length === packets.length,
    `exit ${s1.status}: ${s1.stdout.split("\n")[0]}`,
  );
  const s2 = await user(withRun, "dwm status --json", globalEnv);
  const doc = parseJson(s2.stdout);
  check(
    "dwm status --json (global install): a status-report of the run",
    s2.status === 0 && doc?.kind === "status-report" && doc?.run_id === expectRunId,
    `exit ${s2.status}: ${s2.stdout.replace(/\s+/g, " ").slice(0, 100)}`,
  );
  await user(withRun, "dwm status", globalEnv).then((r) =>
    check("dwm status (global install)", r.status === 0 && r.stdout.includes(`run ${expectRunId} `)),
  );

  // --- 2. @dwm/compiler alone, through its API.
  const project = async (name, pkg) => {
    const dir = path.join(work, name);
    fs.mkdirSync(dir);
    const init = await user(dir, "npm init -y");
    const add = await user(dir, `npm i ${pkg}`);
    check(`${name}: npm init -y && npm i ${pkg}`, init.status === 0 && add.status === 0, tail(add.stderr, 5));
    // Only the package and its declared @dwm dependencies (transitively) are installed.
    const declared = new Set();
    const queue = [pkg];
    while (queue.length) {
      const n = queue.pop();
      if (declared.has(n)) continue;
      declared.add(n);
      const file = path.join(dir, "node_modules", n, "package.json");
      if (!fs.existsSync(file)) continue;
      queue.push(
        ...Object.keys(JSON.parse(fs.readFileSync(file, "utf8")).dependencies ?? {}).filter((d) =>
          d.startsWith("@dwm/"),
        ),
      );
    }
    const scopeDir = path.join(dir, "node_modules/@dwm");
    const installed = fs.existsSync(scopeDir) ? fs.readdirSync(scopeDir).map((d) => `@dwm/${d}`) : [];
    check(
      `${name}: only ${pkg} and its declared @dwm dependencies are installed`,
      installed.includes(pkg) &&
        installed.every((n) => declared.has(n)) &&
        [...declared].every((n) => installed.includes(n)),
      `installed ${installed.join(" ")}; declared ${[...declared].join(" ")}`,
    );
    return dir;
  };

  const compilerUser = await project("compiler-user", "@dwm/compiler");
  fs.copyFileSync(path.join(clone, planRel), path.join(compilerUser, "workflow.plan.json"));
  const { r: cc, json: out } = await nodeScript(
    compilerUser,
    "compile.mjs",
    `import fs from "node:fs";
import { compilePlan, loadRun } from "@dwm/compiler";
const plan = JSON.parse(fs.readFileSync("workflow.plan.json", "utf8"));
const c = compilePlan(plan, { repoRoot: process.cwd(), baseCommit: null });
const loaded = loadRun(c.runDir);
console.log(JSON.stringify({ runId: c.runId, packets: c.run.packets.map((p) => p.packet_id), loaded: loaded.runDigest === c.runDigest, compilerVersion: c.run.compiler_version }));
`,
    env,
  );
  check(
    "@dwm/compiler alone compiles the README's plan to its run id and packets, recording its own version",
    cc.status === 0 &&
      out?.runId === expectRunId &&
      JSON.stringify(out?.packets) === JSON.stringify(packets) &&
      out?.loaded === true &&
      out?.compilerVersion === versions.get("@dwm/compiler"),
    (cc.stdout || tail(cc.stderr, 5)).trim(),
  );

  // --- 3. @dwm/plan-evaluator alone, from plain JavaScript (ESM, no TypeScript).
  const evalReadme = fs.readFileSync(path.join(clone, "packages/plan-evaluator/README.md"), "utf8");
  const example = evalReadme.match(
    /For `([^`]+)` with\s+`phases\[1\]\.depends_on` set to `(\[[^`]*\])` the problems are:\s*```\n([\s\S]*?)```/,
  );
  const expected = example?.[3]
    .split("\n")
    .map((l) => l.match(/^(\/\S*)\s+(ERR_[A-Z0-9_]+)\s+(.*)$/))
    .filter(Boolean)
    .map((m) => `${m[1]} ${m[2]} ${m[3].trim()}`);
  if (!check("plan-evaluator README shows an example with its problems", Boolean(expected?.length))) return;
  const evalUser = await project("evaluator-user", "@dwm/plan-evaluator");
  fs.copyFileSync(path.join(clone, example[1]), path.join(evalUser, "plan.json"));
  const { r: ev, json: res } = await nodeScript(
    evalUser,
    "evaluate.mjs",
    `import { evaluatePlan, loadPlanFile } from "@dwm/plan-evaluator";
const { plan } = loadPlanFile("plan.json");
const before = evaluatePlan(plan);
plan.phases[1].depends_on = ${example[2]};
const after = evaluatePlan(plan);
console.log(JSON.stringify({ valid: before.valid, version: before.evaluator_version, problems: after.problems.map((p) => [p.pointer, p.code, p.message].join(" ")) }));
`,
    env,
  );
  check(
    "@dwm/plan-evaluator alone from plain JS: the plan is valid (scorecard of its own version), the README's edit gives the README's problems",
    ev.status === 0 &&
      res?.valid === true &&
      res?.version === versions.get("@dwm/plan-evaluator") &&
      JSON.stringify(res?.problems) === JSON.stringify(expected),
    (ev.stdout || tail(ev.stderr, 5)).trim(),
  );
  const ts = fs.existsSync(path.join(evalUser, "node_modules/typescript"));
  check("the plain-JS consumer has no TypeScript installed", !ts);

  // --- The README install lines are the ones run above.
  const readmes = [
    ["README.md", "## Install"],
    ["packages/cli/README.md", "## Install"],
    ["packages/compiler/README.md", "## Install"],
    ["packages/plan-evaluator/README.md", "## Install"],
  ];
  for (const [file, heading] of readmes) {
    const lines = installLines(path.join(clone, file), heading);
    const notRun = (lines ?? []).filter((l) => !userCommands.has(l));
    const ok = lines !== null && lines.length > 0 && notRun.length === 0;
    check(
      `${file}: every install line was run`,
      ok,
      ok ? "" : lines === null ? `no \`\`\`sh block under ${heading}` : `not run: ${notRun.join("; ")}`,
    );
  }
}

let crashed = null;
async function finish(code) {
  stopRegistry();
  if (!keep) fs.rmSync(work, { recursive: true, force: true });
  else log(`kept ${work}`);
  if (reportFile) report.write(path.resolve(reportFile));
  log(
    `${report.checks.length - report.failed} passed, ${report.failed} failed (${((Date.now() - started) / 1000).toFixed(0)} s)`,
  );
  process.exit(code);
}
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.once(sig, () => {
    if (current) killGroup(current);
    report.add(`interrupted by ${sig}`, false, sig);
    finish(1);
  });
}
try {
  await main();
} catch (e) {
  crashed = e;
  report.add("release smoke ran to the end", false, String(e.message ?? e));
  console.error(`[release-smoke] ${e.message ?? e}`);
}
await finish(crashed || report.failed > 0 || report.checks.length === 0 ? 1 : 0);
