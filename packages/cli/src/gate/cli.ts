// `pnpm --filter @dwm/cli gate` (turbo run gate): run fixtures/cli/manifest.json
// with the built cli; writes gate-summary.json, exits 1 unless the decision is keep.
import { fileURLToPath } from "node:url";
import { runGateCli, runManifestGate } from "@dwm/test-utils";
import { cliGate } from "./suite.js";

process.exitCode = await runGateCli({
  name: "cli",
  packageDir: fileURLToPath(new URL("../../", import.meta.url)),
  manifest: fileURLToPath(new URL("../../../../fixtures/cli/manifest.json", import.meta.url)),
  run: (manifest, record) => runManifestGate(manifest, cliGate, { record }),
});
