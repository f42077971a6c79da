// `pnpm --filter @dwm/dispatcher gate` (turbo run gate): run fixtures/dispatcher/manifest.json
// with the built dispatcher; writes gate-summary.json, exits 1 unless the decision is keep.
import { fileURLToPath } from "node:url";
import { runGateCli, runManifestGate } from "@dwm/test-utils";
import { dispatcherGate } from "./suite.js";

process.exitCode = await runGateCli({
  name: "dispatcher",
  packageDir: fileURLToPath(new URL("../../", import.meta.url)),
  manifest: fileURLToPath(new URL("../../../../fixtures/dispatcher/manifest.json", import.meta.url)),
  run: (manifest, record) => runManifestGate(manifest, dispatcherGate, { record }),
});
