// `pnpm --filter @dwm/reviewer gate` (turbo run gate): run fixtures/reviewer/manifest.json
// with the built reviewer; writes gate-summary.json, exits 1 unless the decision is keep.
import { fileURLToPath } from "node:url";
import { runGateCli, runManifestGate } from "@dwm/test-utils";
import { reviewerGate } from "./suite.js";

process.exitCode = await runGateCli({
  name: "reviewer",
  packageDir: fileURLToPath(new URL("../../", import.meta.url)),
  manifest: fileURLToPath(new URL("../../../../fixtures/reviewer/manifest.json", import.meta.url)),
  run: (manifest, record) => runManifestGate(manifest, reviewerGate, { record }),
});
