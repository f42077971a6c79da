// `pnpm --filter @dwm/gate-resolver gate` (turbo run gate): run fixtures/gate-resolver/manifest.json
// with the built gate-resolver; writes gate-summary.json, exits 1 unless the decision is keep.
import { fileURLToPath } from "node:url";
import { runGateCli, runManifestGate } from "@dwm/test-utils";
import { gateResolverGate } from "./suite.js";

process.exitCode = await runGateCli({
  name: "gate-resolver",
  packageDir: fileURLToPath(new URL("../../", import.meta.url)),
  manifest: fileURLToPath(new URL("../../../../fixtures/gate-resolver/manifest.json", import.meta.url)),
  run: (manifest, record) => runManifestGate(manifest, gateResolverGate, { record }),
});
