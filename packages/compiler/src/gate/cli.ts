// `pnpm --filter @dwm/compiler gate` (turbo run gate): run fixtures/compiler/manifest.json with
// the built compiler; writes gate-summary.json, exits 1 unless the decision is keep.
import { fileURLToPath } from "node:url";
import { runGateCli } from "@dwm/test-utils";
import { runManifest } from "./run-manifest.js";

process.exitCode = await runGateCli({
  name: "compiler",
  packageDir: fileURLToPath(new URL("../../", import.meta.url)),
  manifest: fileURLToPath(new URL("../../../../fixtures/compiler/manifest.json", import.meta.url)),
  run: (manifest) => runManifest(manifest),
});
