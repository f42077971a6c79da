#!/usr/bin/env node
// After tsc: replace dist/internal/mcp/sdk.js (re-exports of @modelcontextprotocol/sdk) with one
// bundled, minified module of the same exports, so `dwm mcp` loads one file instead of the SDK's
// ~240 modules (zod, ajv, ...): an MCP client waits for the server's start before each session
// (bench/scenarios/startup.mjs measures it). The licenses of every bundled package are appended.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const pkgDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const file = path.join(pkgDir, "dist", "internal", "mcp", "sdk.js");

// The Server validates JSON Schemas with ajv only for elicitation answers, which DWM never asks
// for (server.ts passes a validator of its own); leaving ajv out spares its start-up.
const noAjv = {
  name: "no-ajv",
  setup(b) {
    b.onResolve({ filter: /^ajv(-formats)?$/ }, (a) => ({ path: a.path, namespace: "no-ajv" }));
    b.onLoad({ filter: /.*/, namespace: "no-ajv" }, () => ({
      contents:
        "export default function NotBundled() { throw new Error('ajv is not bundled into dwm mcp'); }",
      loader: "js",
    }));
  },
};

const result = await build({
  plugins: [noAjv],
  entryPoints: [file],
  outfile: file,
  allowOverwrite: true,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  minify: true,
  legalComments: "none",
  metafile: true,
  logLevel: "warning",
});

/** The package.json of the package a bundled input belongs to (the nearest one holding a name). */
function packageOf(input) {
  let dir = path.dirname(path.resolve(pkgDir, input));
  for (;;) {
    const f = path.join(dir, "package.json");
    if (fs.existsSync(f)) {
      const pkg = JSON.parse(fs.readFileSync(f, "utf8"));
      if (pkg.name) return { dir, pkg };
    }
    const up = path.dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

const packages = new Map();
for (const input of Object.keys(result.metafile.inputs)) {
  const found = packageOf(input);
  if (!found || found.dir === pkgDir) continue;
  packages.set(`${found.pkg.name}@${found.pkg.version}`, found);
}
const notices = [...packages]
  .sort(([a], [b]) => (a < b ? -1 : 1))
  .map(([id, { dir, pkg }]) => {
    const licenseFile = fs.readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
    const text = licenseFile ? fs.readFileSync(path.join(dir, licenseFile), "utf8").trim() : "";
    return `${id} (${pkg.license ?? "see package"})\n${text}`;
  });
const footer = `\n/*\nThis file bundles the following packages; their licenses follow.\n\n${notices
  .join("\n\n---\n\n")
  .replaceAll("*/", "* /")}\n*/\n`;
fs.appendFileSync(file, footer);
// The source map tsc wrote describes the file before bundling.
fs.rmSync(`${file}.map`, { force: true });
const kib = (fs.statSync(file).size / 1024).toFixed(0);
console.log(`bundled ${packages.size} packages into dist/internal/mcp/sdk.js (${kib} KiB)`);
