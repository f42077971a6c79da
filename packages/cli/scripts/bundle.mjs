// Bundles the `dwm` command (after tsc; run by `pnpm build`) from the built packages' dist into
// dist/dwm.cjs and its chunks dist/dwm-*.cjs: CommonJS, because an ES module entry costs Node
// more to start (measured: docs/performance.md), with each command's code in a chunk that loads
// only when that command runs. Beside them:
//   dist/validators/<name>.cjs   each schema's validator, self-contained (the ajv helpers inlined),
//                                loaded on first use by the bundled @dwm/schemas;
//   dist/process-host.js,        the scripts @dwm/core starts as processes of their own, looked
//   dist/sandbox-relay.js        for beside the module that starts them (ES modules, self-contained).
// bullmq and ioredis (they read their own files at run time) and OpenTelemetry (loaded only when
// tracing is on) stay outside: dependencies of this package. `dwm mcp`'s handshake answers are
// computed now and put in (prebuiltHandshake). The MCP SDK comes in already bundled
// (scripts/bundle-mcp-sdk.mjs), the skill's files stay in dist/skill. The per-package dist (dist/index.js and the rest) stays as tsc wrote it, for API users.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "rolldown";

const pkgDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dist = path.join(pkgDir, "dist");
const external = ["bullmq", "ioredis", /^@opentelemetry\//];

/** Files an earlier bundle left (chunk names change with their content). */
function removeEarlierBundle() {
  for (const f of fs.readdirSync(dist)) {
    if (/^dwm(-.+)?\.cjs$/.test(f) || f === "process-host.js" || f === "sandbox-relay.js")
      fs.rmSync(path.join(dist, f));
  }
  fs.rmSync(path.join(dist, "validators"), { recursive: true, force: true });
}

/**
 * A package's version.ts reads `../package.json` beside its own dist, which is not beside the
 * bundle: put the version in as a constant (only `version` is read).
 */
const packageVersions = {
  name: "dwm-package-versions",
  transform(code, id) {
    if (!/[\\/]dist[\\/]version\.js$/.test(id)) return null;
    const pattern = /fs\.readFileSync\(new URL\("\.\.\/package\.json", import\.meta\.url\), "utf8"\)/;
    if (!pattern.test(code)) return null;
    const file = path.join(path.dirname(id), "..", "package.json");
    const { version } = JSON.parse(fs.readFileSync(file, "utf8"));
    return code.replace(pattern, JSON.stringify(JSON.stringify({ version })));
  },
};

/**
 * What `dwm mcp` answers a client's handshake from (src/internal/mcp/prebuilt-tools.ts), computed
 * now from the built server and SDK (the same toolList() the per-package dist runs) and put into
 * the bundle: a server start then neither loads the SDK nor folds every output schema.
 */
async function prebuiltHandshake() {
  const mcp = path.join(dist, "internal/mcp");
  const server = await import(pathToFileURL(path.join(mcp, "server.js")).href);
  const sdk = await import(pathToFileURL(path.join(mcp, "sdk.js")).href);
  const prebuilt = {
    toolList: JSON.stringify(server.toolList()),
    protocolVersions: sdk.SUPPORTED_PROTOCOL_VERSIONS,
    latestProtocolVersion: sdk.LATEST_PROTOCOL_VERSION,
  };
  return {
    name: "dwm-prebuilt-handshake",
    transform(code, id) {
      if (!/[\\/]dist[\\/]internal[\\/]mcp[\\/]prebuilt-tools\.js$/.test(id)) return null;
      const pattern = /export const PREBUILT = null;/;
      if (!pattern.test(code)) throw new Error(`bundle: ${id} no longer declares PREBUILT = null`);
      return code.replace(pattern, `export const PREBUILT = ${JSON.stringify(prebuilt)};`);
    },
  };
}

/** Fails the build on any warning: a bundle that resolves something differently is not shipped. */
function onLog(level, log) {
  if (level === "warn") throw new Error(`bundle: ${log.code}: ${log.message}`);
}

async function bundleCli() {
  await build({
    cwd: pkgDir,
    input: { dwm: path.join(dist, "bin.js") },
    platform: "node",
    external,
    plugins: [packageVersions, await prebuiltHandshake()],
    onLog,
    output: {
      dir: dist,
      format: "cjs",
      entryFileNames: "[name].cjs",
      chunkFileNames: "dwm-[name]-[hash].cjs",
    },
  });
}

async function bundleValidators() {
  const from = path.join(pkgDir, "node_modules/@dwm/schemas/dist/generated/validators");
  const input = Object.fromEntries(
    fs.readdirSync(from).map((f) => [f.replace(/\.cjs$/, ""), path.join(from, f)]),
  );
  await build({
    input,
    platform: "node",
    onLog,
    output: {
      dir: path.join(dist, "validators"),
      format: "cjs",
      entryFileNames: "[name].cjs",
      chunkFileNames: "shared-[name]-[hash].cjs",
    },
  });
}

async function bundleCoreScripts() {
  const core = path.join(pkgDir, "node_modules/@dwm/core/dist");
  for (const name of ["process-host", "sandbox-relay"]) {
    await build({
      input: path.join(core, `${name}.js`),
      platform: "node",
      onLog,
      output: { file: path.join(dist, `${name}.js`), format: "esm" },
    });
  }
}

removeEarlierBundle();
await bundleCli();
await bundleValidators();
await bundleCoreScripts();
fs.chmodSync(path.join(dist, "dwm.cjs"), 0o755);
