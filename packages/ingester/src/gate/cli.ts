// `pnpm --filter @dwm/ingester gate` (turbo run gate): run fixtures/ingester/manifest.json
// with the built ingester; writes gate-summary.json, exits 1 unless the decision is keep.
import { fileURLToPath } from "node:url";
import { runGateCli, runManifestGate } from "@dwm/test-utils";
import { ingesterGate } from "./suite.js";

process.exitCode = await runGateCli({
  name: "ingester",
  packageDir: fileURLToPath(new URL("../../", import.meta.url)),
  manifest: fileURLToPath(new URL("../../../../fixtures/ingester/manifest.json", import.meta.url)),
  run: (manifest, record) => runManifestGate(manifest, ingesterGate, { record }),
});
