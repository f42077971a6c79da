// The command line of every package's manifest gate (`pnpm --filter @dwm/X gate`, run by
// `turbo run gate`): run the manifest, write <package>/gate-summary.json (turbo's declared
// output, summed by scripts/sum-reports.mjs), print one keep/kill line, exit 1 unless keep.
import fs from "node:fs";
import path from "node:path";
import { writeArtifact } from "@dwm/core";
import type { ManifestSummary } from "@dwm/schemas";

/** Where a gate writes its summary, relative to its package folder. */
export const GATE_SUMMARY_FILE = "gate-summary.json";

export interface GateCliOptions {
  /** The package's short name, e.g. "runtime" (printed). */
  name: string;
  /** The package folder: gate-summary.json goes there. */
  packageDir: string;
  /** fixtures/<package>/manifest.json; a path on the command line overrides it. */
  manifest: string;
  /** Run the manifest (record: write the produced digests into it). */
  run: (manifestFile: string, record: boolean) => ManifestSummary | Promise<ManifestSummary>;
  argv?: readonly string[];
}

/** The keep/kill line a gate prints. */
export function summaryLine(name: string, s: ManifestSummary): string {
  return `${name} manifest ${s.suite_id}: ${s.passed}/${s.case_count} passed, ${s.failed} failed, ${s.skipped} skipped → ${s.decision}`;
}

/** Run a gate from the command line; returns the exit code (0 only for keep). */
export async function runGateCli(options: GateCliOptions): Promise<number> {
  const argv = options.argv ?? process.argv.slice(2);
  const record = argv.includes("--record");
  const manifest = argv.find((a) => !a.startsWith("--")) ?? options.manifest;
  const out = path.join(options.packageDir, GATE_SUMMARY_FILE);
  // A gate that crashes must not leave an earlier run's summary behind to be counted.
  fs.rmSync(out, { force: true });
  const summary = await options.run(path.resolve(manifest), record);
  writeArtifact(out, "manifest-summary", summary);
  for (const f of summary.failures) process.stderr.write(`FAIL ${f.id}: ${f.message}\n`);
  process.stdout.write(`${summaryLine(options.name, summary)}\n`);
  if (record) process.stdout.write(`recorded the digests into ${path.relative(process.cwd(), manifest)}\n`);
  return summary.decision === "keep" ? 0 : 1;
}
