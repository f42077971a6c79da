#!/usr/bin/env node
// Checks every public package the way a user receives it: `pnpm pack` (which applies
// publishConfig and rewrites workspace: ranges), then on the tarball:
//   - publint --strict and @arethetypeswrong/cli --profile esm-only;
//   - the packed package.json: no `workspace:` range, no `@dwm/source` export condition;
//   - contents: package.json, README.md (with its `npm i <name>` install line), LICENSE,
//     CHANGELOG.md, and dist/ files the package can reach at run time — modules reachable
//     by relative imports from its exports and bin (and their declarations), plus the
//     schema files of @dwm/schemas. Anything else (tests, fixtures, test harnesses,
//     source maps pointing at sources the tarball lacks) is reported.
// And: the version constants of src/version.ts files equal their package.json versions.
// Run after `pnpm build`. Usage: node scripts/check-packages.mjs [--report FILE]
// Exits 1 on any problem; --report writes the results for scripts/sum-reports.mjs.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { argValue, createReport, publicPackageDirs, staleVersionConstants } from "./ci-lib.mjs";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const reportFile = argValue(process.argv, "--report");
const out = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-packs-"));
const report = createReport("check-packages");
const bin = (name) => path.join(repo, "node_modules/.bin", name);

// Two packages at a time: packing and the checkers wait on the disk as much as on the CPU.
const CONCURRENCY = 2;
const execFileP = promisify(execFile);

async function sh(cmd, args, cwd) {
  try {
    const { stdout, stderr } = await execFileP(cmd, args, { cwd, encoding: "utf8", maxBuffer: 64 << 20 });
    return { status: 0, stdout, stderr };
  } catch (e) {
    return {
      status: typeof e.code === "number" ? e.code : 1,
      stdout: e.stdout ?? "",
      stderr: e.stderr || e.message,
    };
  }
}

/** Every string leaf of an exports map (conditions nested at any depth). */
function exportTargets(exp) {
  if (typeof exp === "string") return [exp];
  if (exp && typeof exp === "object") return Object.values(exp).flatMap(exportTargets);
  return [];
}

// `require("./…")` too: @dwm/schemas loads each validator (a CommonJS module) on first use.
const RELATIVE_IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire[$\d]*\(\s*)["'](\.{1,2}\/[^"']+)["']/g;
// Scripts a module starts by path, e.g. `new URL("./process-host.js", …)` (@dwm/core forks it).
const SCRIPT_URL = /\bnew URL\(\s*["'](\.{1,2}\/[^"']+\.js)["']/g;

/**
 * Files reachable from `entries` by relative imports, within the unpacked package `root`;
 * `missing` collects imported files the tarball lacks (a `files` field that leaves out too much).
 */
function reachable(root, entries, toFile, missing) {
  const seen = new Set();
  const queue = entries.map((e) => path.posix.normalize(e.replace(/^\.\//, "")));
  while (queue.length) {
    const f = queue.pop();
    if (seen.has(f)) continue;
    if (!fs.existsSync(path.join(root, f))) {
      missing.add(f);
      continue;
    }
    seen.add(f);
    const text = fs.readFileSync(path.join(root, f), "utf8");
    for (const m of [...text.matchAll(RELATIVE_IMPORT), ...text.matchAll(SCRIPT_URL)]) {
      queue.push(toFile(path.posix.normalize(path.posix.join(path.posix.dirname(f), m[1]))));
    }
  }
  return seen;
}

function checkContents(pkg, root, files) {
  const problems = [];
  for (const required of [
    "package.json",
    "README.md",
    "LICENSE",
    "CHANGELOG.md",
    "dist/index.js",
    "dist/index.d.ts",
  ]) {
    if (!files.includes(required)) problems.push(`tarball lacks ${required}`);
  }
  const targets = [...exportTargets(pkg.exports), ...exportTargets(pkg.bin ?? {})].filter(
    (t) => !t.includes("*"),
  );
  const missing = new Set();
  const js = reachable(
    root,
    targets.filter((t) => /\.c?js$/.test(t)),
    (f) => f,
    missing,
  );
  const dts = reachable(
    root,
    targets.filter((t) => t.endsWith(".d.ts")),
    (f) => f.replace(/\.js$/, ".d.ts"),
    missing,
  );
  if (missing.size) problems.push(`imported but not in the tarball: ${[...missing].join(", ")}`);
  const allowed = new Set(["package.json", "README.md", "LICENSE", "CHANGELOG.md"]);
  for (const f of js) allowed.add(f).add(f.replace(/\.js$/, ".d.ts"));
  for (const f of dts) allowed.add(f).add(f.replace(/\.d\.ts$/, ".js"));
  if (pkg.name === "@dwm/schemas") {
    // The schema files (read at run time by loadSchema) and one generated type module per schema.
    for (const f of files.filter((f) => /^[a-z0-9-]+\.schema\.json$/.test(f))) {
      const name = f.replace(/\.schema\.json$/, "");
      allowed.add(f).add(`dist/generated/types/${name}.js`).add(`dist/generated/types/${name}.d.ts`);
    }
  }
  if (pkg.name === "@dwm/cli") {
    // The agent skill, served by `dwm mcp` as resources (read at run time from dist/skill/).
    for (const f of files.filter((f) => /^dist\/skill\/.+\.md$/.test(f))) allowed.add(f);
  }
  const stray = files.filter((f) => !allowed.has(f) && !(f.endsWith(".map") && allowed.has(f.slice(0, -4))));
  if (stray.length) problems.push(`files nothing at run time reaches: ${stray.join(", ")}`);
  const tests = files.filter((f) => /\.test\.|(^|\/)(fixtures|test-support|__tests__)\//.test(f));
  if (tests.length) problems.push(`tests or fixtures in tarball: ${tests.join(", ")}`);
  const brokenMaps = files.filter((map) => {
    if (!map.endsWith(".map")) return false;
    const sources = JSON.parse(fs.readFileSync(path.join(root, map), "utf8")).sources ?? [];
    return sources.some((s) => !files.includes(path.posix.join(path.posix.dirname(map), s)));
  });
  // A source map of a shipped file is judged by whether its sources ship too.
  if (brokenMaps.length) {
    problems.push(
      `${brokenMaps.length} source map(s) point at sources the tarball lacks, e.g. ${brokenMaps[0]} (leave maps out: "!dist/**/*.map" in files)`,
    );
  }
  return problems;
}

function checkManifest(pkg, source) {
  const problems = [];
  if (pkg.version !== source.version)
    problems.push(`packed version ${pkg.version}, source ${source.version}`);
  for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
    for (const [name, range] of Object.entries(pkg[field] ?? {})) {
      if (String(range).startsWith("workspace:")) problems.push(`${field}.${name} is still ${range}`);
    }
  }
  if (JSON.stringify(pkg.exports ?? {}).includes("@dwm/source")) {
    problems.push(
      "exports keep the workspace-only @dwm/source condition (publishConfig.exports not applied)",
    );
  }
  return problems;
}

function checkReadme(pkg, root) {
  const file = path.join(root, "README.md");
  if (!fs.existsSync(file)) return [];
  const line = pkg.bin ? `npm i -g ${pkg.name}` : `npm i ${pkg.name}`;
  const text = fs.readFileSync(file, "utf8");
  return new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}\\s*(#.*)?$`, "m").test(text)
    ? []
    : [`README.md has no install line \`${line}\``];
}

async function checkPackage(dir) {
  const source = { ...JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")), dir };
  const problems = [];
  const dest = fs.mkdtempSync(path.join(out, "pack-"));
  const packed = await sh("pnpm", ["pack", "--pack-destination", dest], dir);
  const tgz = fs.readdirSync(dest).find((f) => f.endsWith(".tgz"));
  if (packed.status !== 0 || !tgz) {
    problems.push(`pnpm pack failed: ${packed.stderr || packed.stdout}`);
    return { name: source.name, problems };
  }
  const tarball = path.join(dest, tgz);
  const unpacked = path.join(dest, "unpacked");
  fs.mkdirSync(unpacked);
  const untar = await sh("tar", ["xzf", tarball, "-C", unpacked], dest);
  if (untar.status !== 0) problems.push(`tar failed: ${untar.stderr}`);
  const root = path.join(unpacked, "package");
  const files = (await sh("tar", ["tzf", tarball], dest)).stdout
    .trim()
    .split("\n")
    .filter((f) => !f.endsWith("/"))
    .map((f) => f.replace(/^package\//, ""));
  const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
  problems.push(...checkManifest(pkg, source), ...checkContents(pkg, root, files), ...checkReadme(pkg, root));
  const [pl, attw] = await Promise.all([
    sh(bin("publint"), ["--strict", tarball], repo),
    sh(bin("attw"), [tarball, "--profile", "esm-only", "--format", "ascii"], repo),
  ]);
  if (pl.status !== 0) problems.push(`publint:\n${pl.stdout}${pl.stderr}`);
  if (attw.status !== 0) problems.push(`attw:\n${attw.stdout}${attw.stderr}`);
  return { name: source.name, problems };
}

const dirs = publicPackageDirs(repo);
if (dirs.length === 0)
  report.add("public packages found", false, "no public package under schemas/ or packages/");
const results = new Array(dirs.length);
let next = 0;
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    while (next < dirs.length) {
      const i = next++;
      results[i] = await checkPackage(dirs[i]).catch((e) => ({
        name: dirs[i],
        problems: [`crashed: ${e.stack ?? e}`],
      }));
      const { name, problems } = results[i];
      console.log(problems.length ? `FAIL ${name}\n  ${problems.join("\n  ")}` : `ok   ${name}`);
    }
  }),
);
for (const { name, problems } of results) report.add(name, problems.length === 0, problems.join("\n"));
// Versions recorded in artifacts (COMPILER_VERSION, ...) must be the package's own (scripts/sync-versions.mjs).
const stale = staleVersionConstants(repo).map(
  (s) => `${s.file}: ${s.name} ${s.found}, package.json ${s.version}`,
);
report.add("src/version.ts constants equal package.json versions", stale.length === 0, stale.join("\n"));
console.log(stale.length ? `FAIL version constants\n  ${stale.join("\n  ")}` : "ok   version constants");
fs.rmSync(out, { recursive: true, force: true });
if (reportFile) report.write(path.resolve(reportFile));
console.log(`package checks: ${report.checks.length - report.failed} passed, ${report.failed} failed`);
process.exit(report.failed ? 1 : 0);
