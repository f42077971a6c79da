// `pnpm --filter @dwm/compiler gate`: run fixtures/compiler/manifest.json with the
// built compiler, write fixtures/compiler/summary.json, exit 1 unless the decision is keep.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { writeArtifact } from "@dwm/core";
import { runManifest } from "./run-manifest.js";

const fixtures = fileURLToPath(new URL("../../../../fixtures/compiler/", import.meta.url));
const manifest = process.argv[2] ?? path.join(fixtures, "manifest.json");
const summary = runManifest(manifest);
writeArtifact(path.join(path.dirname(manifest), "summary.json"), "manifest-summary", summary);
for (const f of summary.failures) process.stderr.write(`FAIL ${f.id}: ${f.message}\n`);
process.stdout.write(
  `compiler manifest ${summary.suite_id}: ${summary.passed}/${summary.case_count} passed, ${summary.failed} failed, ${summary.skipped} skipped → ${summary.decision}\n`,
);
process.exitCode = summary.decision === "keep" ? 0 : 1;
