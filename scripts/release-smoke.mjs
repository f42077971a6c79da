#!/usr/bin/env node
// Release smoke test: publish every public package to a throw-away local registry
// through the real `pnpm version-packages` + `pnpm release` path, then use them as
// a user would, from an empty directory outside the workspace:
//   1. `npx @dwm/cli --version`, `npx @dwm/cli status` in a repo with a compiled run and in one without;
//   2. a fresh npm project installs only @dwm/compiler and compiles a reference plan through its API;
//   3. a fresh npm project uses @dwm/plan-evaluator from plain JavaScript (ESM).
// The @dwm scope resolves to the local registry (Verdaccio, loopback, no uplinks);
// third-party dependencies come from the normal npm registry.
// Usage: node scripts/release-smoke.mjs [--keep]
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const keep = process.argv.includes("--keep");
const work = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "dwm-release-smoke-")));
const results = [];
let registry;
let server;

function log(msg) {
  console.log(`[release-smoke] ${msg}`);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", stdio: opts.capture ? "pipe" : "inherit", ...opts });
  if (opts.allowFail) return r;
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}\n${r.stdout ?? ""}${r.stderr ?? ""}`);
  }
  return r;
}

function check(name, ok, detail = "") {
  results.push({ name, ok });
  log(`${ok ? "ok  " : "FAIL"} ${name}${detail ? ` — ${detail}` : ""}`);
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

async function startRegistry() {
  const tools = path.join(repo, "tools/verdaccio");
  if (!fs.existsSync(path.join(tools, "node_modules/.bin/verdaccio"))) {
    log("installing verdaccio into tools/verdaccio");
    run("npm", ["ci", "--no-audit", "--no-fund", "--prefix", tools]);
  }
  const port = await freePort();
  const dir = path.join(work, "registry");
  fs.mkdirSync(dir, { recursive: true });
  const config = path.join(dir, "config.yaml");
  fs.writeFileSync(
    config,
    [
      `storage: ${path.join(dir, "storage")}`,
      "uplinks: {}",
      "packages:",
      "  '@*/*':",
      "    access: $all",
      "    publish: $anonymous",
      "  '**':",
      "    access: $all",
      "    publish: $anonymous",
      "log: { type: stdout, format: pretty, level: warn }",
      "",
    ].join("\n"),
  );
  server = spawn(path.join(tools, "node_modules/.bin/verdaccio"), ["--config", config, "--listen", `127.0.0.1:${port}`], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  registry = `http://127.0.0.1:${port}/`;
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`${registry}-/ping`);
      if (r.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("verdaccio did not start");
}

function npmrc(dir) {
  const host = registry.replace(/^http:/, "");
  fs.writeFileSync(path.join(dir, ".npmrc"), `@dwm:registry=${registry}\n${host}:_authToken=smoke-test\n`);
}

async function main() {
  await startRegistry();
  log(`registry ${registry}, work dir ${work}`);

  // A throw-away clone: version bump with a changeset, then the real release script.
  const clone = path.join(work, "clone");
  run("git", ["clone", "-q", repo, clone]);
  npmrc(clone);
  run("pnpm", ["install", "--frozen-lockfile"], { cwd: clone });
  const pkgs = JSON.parse(run("pnpm", ["-r", "ls", "--json", "--depth", "-1"], { cwd: clone, capture: true }).stdout)
    .filter((p) => p.name?.startsWith("@dwm/") && !p.private)
    .map((p) => p.name)
    .sort();
  fs.writeFileSync(
    path.join(clone, ".changeset/release-smoke.md"),
    `---\n${pkgs.map((p) => `"${p}": patch`).join("\n")}\n---\n\nRelease smoke test.\n`,
  );
  run("pnpm", ["version-packages"], { cwd: clone });
  const version = JSON.parse(fs.readFileSync(path.join(clone, "packages/cli/package.json"), "utf8")).version;
  run("pnpm", ["release"], { cwd: clone, env: { ...process.env, npm_config_registry: registry } });
  for (const p of pkgs) {
    const r = await fetch(`${registry}${p.replace("/", "%2f")}`);
    const doc = r.ok ? await r.json() : {};
    check(`published ${p}@${version}`, Boolean(doc.versions?.[version]));
  }

  // 1. npx @dwm/cli from an empty directory.
  const user = path.join(work, "user");
  fs.mkdirSync(user);
  npmrc(user);
  const npx = (cwd, ...args) =>
    run("npx", ["-y", `@dwm/cli@${version}`, ...args], { cwd, capture: true, allowFail: true, env: { ...process.env, npm_config_userconfig: path.join(user, ".npmrc") } });
  const v = npx(user, "--version");
  check("npx @dwm/cli --version", v.status === 0 && v.stdout.trim() === version, v.stdout.trim());

  const empty = path.join(user, "no-run");
  fs.mkdirSync(empty);
  run("git", ["init", "-q", empty]);
  const s0 = npx(empty, "status");
  check("npx @dwm/cli status without a run: helpful error", s0.status === 1 && /ERR_\w+/.test(s0.stderr) && /hint:/.test(s0.stderr), s0.stderr.trim().split("\n")[0]);

  const withRun = path.join(user, "with-run");
  fs.mkdirSync(withRun);
  run("git", ["init", "-q", "-b", "main", withRun]);
  const plan = path.join(repo, "../shared/reference-plans/ready-readonly.workflow.plan.json");
  fs.copyFileSync(plan, path.join(withRun, "workflow.plan.json"));
  run("git", ["-C", withRun, "add", "-A"]);
  run("git", ["-C", withRun, "-c", "user.name=smoke", "-c", "user.email=smoke@dwm.invalid", "commit", "-qm", "plan"]);
  const c = npx(withRun, "compile", "workflow.plan.json");
  check("npx @dwm/cli compile", c.status === 0, c.stderr.trim().split("\n")[0] ?? "");
  const s1 = npx(withRun, "status");
  check("npx @dwm/cli status prints the run", s1.status === 0 && s1.stdout.includes("positive-ready-readonly"), s1.stdout.split("\n")[0]);

  // 2. @dwm/compiler alone, through its API.
  const compilerUser = path.join(work, "compiler-user");
  fs.mkdirSync(compilerUser);
  npmrc(compilerUser);
  fs.writeFileSync(path.join(compilerUser, "package.json"), JSON.stringify({ name: "smoke-compiler", private: true, type: "module" }));
  run("npm", ["install", "--no-audit", "--no-fund", `@dwm/compiler@${version}`], { cwd: compilerUser });
  run("git", ["init", "-q", compilerUser]);
  fs.writeFileSync(
    path.join(compilerUser, "compile.mjs"),
    `import fs from "node:fs";
import { compilePlan } from "@dwm/compiler";
const plan = JSON.parse(fs.readFileSync(${JSON.stringify(plan)}, "utf8"));
const r = compilePlan(plan, { repoRoot: process.cwd(), baseCommit: null });
console.log(JSON.stringify({ runId: r.runId, packets: r.packets.length }));
`,
  );
  const cc = run("node", ["compile.mjs"], { cwd: compilerUser, capture: true, allowFail: true });
  check("@dwm/compiler alone compiles a reference plan", cc.status === 0 && /"packets":\d+/.test(cc.stdout), (cc.stdout || cc.stderr).trim().split("\n")[0]);

  // 3. @dwm/plan-evaluator from plain JavaScript.
  const evalUser = path.join(work, "evaluator-user");
  fs.mkdirSync(evalUser);
  npmrc(evalUser);
  fs.writeFileSync(path.join(evalUser, "package.json"), JSON.stringify({ name: "smoke-eval", private: true, type: "module" }));
  run("npm", ["install", "--no-audit", "--no-fund", `@dwm/plan-evaluator@${version}`], { cwd: evalUser });
  fs.writeFileSync(
    path.join(evalUser, "eval.mjs"),
    `import fs from "node:fs";
import { evaluatePlan } from "@dwm/plan-evaluator";
const card = evaluatePlan(JSON.parse(fs.readFileSync(${JSON.stringify(plan)}, "utf8")));
console.log(JSON.stringify({ valid: card.valid, kind: card.kind }));
`,
  );
  const ev = run("node", ["eval.mjs"], { cwd: evalUser, capture: true, allowFail: true });
  check("@dwm/plan-evaluator from plain JS", ev.status === 0 && ev.stdout.includes('"valid":true'), (ev.stdout || ev.stderr).trim().split("\n")[0]);
}

let failed = false;
try {
  await main();
} catch (e) {
  failed = true;
  console.error(`[release-smoke] ${e.stack ?? e}`);
} finally {
  server?.kill("SIGTERM");
  if (!keep) fs.rmSync(work, { recursive: true, force: true });
}
const bad = results.filter((r) => !r.ok).length;
console.log(`release smoke: ${results.length - bad} passed, ${bad} failed`);
process.exit(failed || bad > 0 ? 1 : 0);
