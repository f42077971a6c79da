// `pnpm --filter @dwm/executor gate` (turbo run gate): run fixtures/executor/manifest.json
// with the built executor; writes gate-summary.json, exits 1 unless the decision is keep.
import { fileURLToPath } from "node:url";
import { runGateCli, runManifestGate } from "@dwm/test-utils";
import { executorGate } from "./suite.js";

process.exitCode = await runGateCli({
  name: "executor",
  packageDir: fileURLToPath(new URL("../../", import.meta.url)),
  manifest: fileURLToPath(new URL("../../../../fixtures/executor/manifest.json", import.meta.url)),
  run: (manifest, record) => runManifestGate(manifest, executorGate, { record }),
});
