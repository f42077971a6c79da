#!/usr/bin/env node
// Checks every public package the way a user receives it: pack it (pnpm pack applies
// publishConfig), then publint and @arethetypeswrong/cli on the tarball, and the tarball's
// file list: dist/ with types, README.md, LICENSE, package.json, and nothing of note besides.
// Run after `pnpm build`. Exits 1 on any problem.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const out = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-packs-"));
const dirs = [
  path.join(repo, "schemas"),
  ...fs.readdirSync(path.join(repo, "packages")).map((d) => path.join(repo, "packages", d)),
];
let passed = 0;
let failed = 0;

function sh(cmd, args, cwd) {
  return spawnSync(cmd, args, { cwd, encoding: "utf8" });
}

for (const dir of dirs) {
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
  if (pkg.private) continue;
  const problems = [];
  const packed = sh("pnpm", ["pack", "--pack-destination", out], dir);
  const tgz = path.join(out, `${pkg.name.replace("@", "").replace("/", "-")}-${pkg.version}.tgz`);
  if (packed.status !== 0 || !fs.existsSync(tgz)) {
    problems.push(`pnpm pack failed: ${packed.stderr}`);
  } else {
    const files = sh("tar", ["tzf", tgz], out).stdout.trim().split("\n").map((f) => f.replace(/^package\//, ""));
    for (const required of ["package.json", "README.md", "LICENSE", "dist/index.js", "dist/index.d.ts"]) {
      if (!files.includes(required)) problems.push(`tarball lacks ${required}`);
    }
    const stray = files.filter(
      (f) =>
        !["package.json", "README.md", "LICENSE", "CHANGELOG.md"].includes(f) &&
        !f.startsWith("dist/") &&
        !(pkg.name === "@dwm/schemas" && f.endsWith(".schema.json")),
    );
    if (stray.length) problems.push(`unexpected files in tarball: ${stray.join(", ")}`);
    const tests = files.filter((f) => /\.test\.|fixtures\//.test(f));
    if (tests.length) problems.push(`tests or fixtures in tarball: ${tests.join(", ")}`);
    const pl = sh(path.join(repo, "node_modules/.bin/publint"), ["--strict", tgz], repo);
    if (pl.status !== 0) problems.push(`publint:\n${pl.stdout}${pl.stderr}`);
    const attw = sh(path.join(repo, "node_modules/.bin/attw"), [tgz, "--profile", "esm-only", "--format", "ascii"], repo);
    if (attw.status !== 0) problems.push(`attw:\n${attw.stdout}${attw.stderr}`);
  }
  if (problems.length) {
    failed++;
    console.log(`FAIL ${pkg.name}\n  ${problems.join("\n  ")}`);
  } else {
    passed++;
    console.log(`ok   ${pkg.name}`);
  }
}
fs.rmSync(out, { recursive: true, force: true });
console.log(`package checks: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
