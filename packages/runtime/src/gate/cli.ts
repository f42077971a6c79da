// `pnpm --filter @dwm/runtime gate` (turbo run gate): run fixtures/runtime/manifest.json
// with the built runtime; writes gate-summary.json, exits 1 unless the decision is keep.
import { fileURLToPath } from "node:url";
import { runGateCli, runManifestGate } from "@dwm/test-utils";
import { runtimeGate } from "./suite.js";

process.exitCode = await runGateCli({
  name: "runtime",
  packageDir: fileURLToPath(new URL("../../", import.meta.url)),
  manifest: fileURLToPath(new URL("../../../../fixtures/runtime/manifest.json", import.meta.url)),
  run: (manifest, record) => runManifestGate(manifest, runtimeGate, { record }),
});
