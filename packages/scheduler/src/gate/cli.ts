// `pnpm --filter @dwm/scheduler gate` (turbo run gate): run fixtures/scheduler/manifest.json
// with the built scheduler; writes gate-summary.json, exits 1 unless the decision is keep.
import { fileURLToPath } from "node:url";
import { runGateCli, runManifestGate } from "@dwm/test-utils";
import { schedulerGate } from "./suite.js";

process.exitCode = await runGateCli({
  name: "scheduler",
  packageDir: fileURLToPath(new URL("../../", import.meta.url)),
  manifest: fileURLToPath(new URL("../../../../fixtures/scheduler/manifest.json", import.meta.url)),
  run: (manifest, record) => runManifestGate(manifest, schedulerGate, { record }),
});
