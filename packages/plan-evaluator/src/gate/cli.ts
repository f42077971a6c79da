// `pnpm --filter @dwm/plan-evaluator gate` (turbo run gate): run fixtures/plan-evaluator/manifest.json
// with the built evaluator; writes gate-summary.json, exits 1 unless the decision is keep.
import { fileURLToPath } from "node:url";
import { runGateCli } from "@dwm/test-utils";
import { runManifest } from "./run-manifest.js";

process.exitCode = await runGateCli({
  name: "plan-evaluator",
  packageDir: fileURLToPath(new URL("../../", import.meta.url)),
  manifest: fileURLToPath(new URL("../../../../fixtures/plan-evaluator/manifest.json", import.meta.url)),
  run: (manifest) => runManifest(manifest),
});
