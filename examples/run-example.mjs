#!/usr/bin/env node
// Run one of the examples end to end in a fresh temporary git repository, with the built CLI:
//   node examples/run-example.mjs [repo-audit|api-migration|agent-pair|fan-out] [--stop-at-gate] [--keep]
// It copies examples/<name>/ into a new repository, runs `dwm run workflow.plan.json` to the
// human gate (exit 4), approves the gate as you (`dwm approve`, signed with your operator key),
// runs again to completion (exit 0), checks the run with `dwm verify`, exports its signed
// attestations (`dwm attest`), and shows the integration branch. Without an operator key
// (`dwm keys init`) it makes a throwaway one for this run in a temporary folder.
// --stop-at-gate stops at the gate and prints the commands to finish by hand; --keep keeps the folder.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = path.join(here, "..", "packages", "cli", "dist", "bin.js");
const args = process.argv.slice(2);
const name = args.find((a) => !a.startsWith("--")) ?? "repo-audit";
const stopAtGate = args.includes("--stop-at-gate");
const keep = args.includes("--keep") || stopAtGate;
const src = path.join(here, name);
if (!fs.existsSync(path.join(src, "workflow.plan.json"))) {
  console.error(`no example ${name} (try repo-audit, api-migration, agent-pair or fan-out)`);
  process.exit(2);
}
if (!fs.existsSync(bin)) {
  console.error("build first: pnpm install && pnpm build");
  process.exit(2);
}
const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `dwm-example-${name}-`)));
fs.cpSync(src, dir, { recursive: true });
fs.writeFileSync(path.join(dir, ".gitignore"), ".dwm/\n");
const git = (...a) => execFileSync("git", a, { cwd: dir, encoding: "utf8" }).trim();
git("init", "-q", "-b", "main");
if (!spawnSync("git", ["config", "user.name"], { cwd: dir, encoding: "utf8" }).stdout.trim()) {
  git("config", "user.name", "DWM Example");
  git("config", "user.email", "example@dwm.invalid");
}
git("add", "-A");
git("commit", "-q", "-m", `example ${name}`);

// Your operator key signs the approvals and the run's attestations; without one, a throwaway key.
const env = { ...process.env };
let throwaway = null;
if (spawnSync(process.execPath, [bin, "keys", "show"], { cwd: dir, env, encoding: "utf8" }).status !== 0) {
  throwaway = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-example-key-"));
  env.DWM_CONFIG_DIR = throwaway;
  console.log(`no operator key (dwm keys init): using a throwaway one in ${throwaway}`);
}
const dwm = (...a) => {
  console.log(`\n$ dwm ${a.join(" ")}`);
  return spawnSync(process.execPath, [bin, ...a], { cwd: dir, env, stdio: "inherit" }).status;
};
if (throwaway) expect0(dwm("keys", "init"), "dwm keys init");
expect0(dwm("keys", "trust"), "dwm keys trust");
git("add", "dwm.operators.json");
git("commit", "-q", "-m", "trust the operator's key");

function expect0(code, what) {
  if (code !== 0) {
    console.error(`\n${what} exited ${code}; the repository is kept at ${dir}`);
    process.exit(1);
  }
}
const expect = (code, want, what) => {
  if (code !== want) {
    console.error(`\n${what} exited ${code}, expected ${want}; the repository is kept at ${dir}`);
    process.exit(1);
  }
};

console.log(`example ${name} in ${dir}`);
expect(dwm("run", "workflow.plan.json"), 4, "dwm run (to the gate)");
const next = JSON.parse(
  spawnSync(process.execPath, [bin, "next", "--json"], { cwd: dir, env, encoding: "utf8" }).stdout,
);
if (stopAtGate) {
  const keyEnv = throwaway ? `DWM_CONFIG_DIR=${throwaway} ` : "";
  console.log(
    `\nStopped at the gate. To finish:\n  cd ${dir}\n  ${keyEnv}${next.command}\n  ${keyEnv}dwm run ${next.run_id}`,
  );
  process.exit(0);
}
expect(dwm("gates", next.run_id), 0, "dwm gates");
expect(dwm(...next.argv.slice(1), "--reason", "accepted with examples/run-example.mjs"), 0, "dwm approve");
expect(dwm("run", next.run_id), 0, "dwm run (to completion)");
expect(dwm("verify", next.run_id), 0, "dwm verify");
expect(dwm("attest", next.run_id, "--out", "attestations.jsonl"), 0, "dwm attest");
console.log(`\n$ git log --oneline dwm/${next.run_id}/integration`);
console.log(git("log", "--oneline", `dwm/${next.run_id}/integration`));
console.log(`\nThe run is complete; its work is on branch dwm/${next.run_id}/integration.`);
if (keep) console.log(`Kept: ${dir}`);
else fs.rmSync(dir, { recursive: true, force: true });
if (throwaway) fs.rmSync(throwaway, { recursive: true, force: true });
