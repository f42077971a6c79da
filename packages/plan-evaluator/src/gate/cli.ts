// `pnpm --filter @dwm/plan-evaluator gate`: run fixtures/plan-evaluator/manifest.json with
// the built evaluator, write fixtures/plan-evaluator/summary.json, exit 1 unless keep.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { writeArtifact } from "@dwm/core";
import { runManifest } from "./run-manifest.js";

const fixtures = fileURLToPath(new URL("../../../../fixtures/plan-evaluator/", import.meta.url));
const manifest = process.argv[2] ?? path.join(fixtures, "manifest.json");
const summary = runManifest(manifest);
writeArtifact(path.join(path.dirname(manifest), "summary.json"), "manifest-summary", summary);
for (const f of summary.failures) process.stderr.write(`FAIL ${f.id}: ${f.message}\n`);
process.stdout.write(
  `plan-evaluator manifest: ${summary.passed}/${summary.case_count} passed, ${summary.failed} failed → ${summary.decision}\n`,
);
process.exitCode = summary.decision === "keep" ? 0 : 1;
