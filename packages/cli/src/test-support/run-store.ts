// A small run store laid out as the compiler writes it, for the status/verify/log
// command tests (the runtime's own tests build the same by hand).
import fs from "node:fs";
import path from "node:path";
import { digest, digestBytes, renderArtifact, writeArtifact, writeFileAtomic } from "@dwm/core";
import type { Gate, Run } from "@dwm/schemas";

export function writeRunStore(storeDir: string, runId: string): { runDir: string; run: Run } {
  const runDir = path.join(storeDir, runId);
  fs.mkdirSync(runDir, { recursive: true });
  const plan = { schema_version: "0.6", plan_id: "demo" };
  // verify checks scorecard.json against its schema: use the schema's own valid example.
  const scorecard = readExample("scorecard/valid/activated.json");
  writeFileAtomic(path.join(runDir, "plan.json"), renderArtifact(plan));
  writeFileAtomic(path.join(runDir, "scorecard.json"), renderArtifact(scorecard));
  writeFileAtomic(
    path.join(runDir, ".dwm-run"),
    renderArtifact({ kind: "run-marker", schema_version: "1", run_id: runId }),
  );
  const specs = [
    { id: "inventory", deps: [] as string[], gates: [] as string[] },
    { id: "implement", deps: ["inventory"], gates: ["write-gate"] },
    { id: "review", deps: ["implement"], gates: [] },
  ];
  const example = readExample("packet/valid/inventory.json");
  const packets = specs.map((s) => {
    const doc = { ...example, packet_id: s.id, depends_on: s.deps, gates: s.gates };
    writeFileAtomic(path.join(runDir, "packets", `${s.id}.json`), renderArtifact(doc));
    const prompt = `# ${s.id}\n`;
    writeFileAtomic(path.join(runDir, "prompts", `${s.id}.md`), prompt);
    return { packet_id: s.id, digest: digest(doc), prompt_digest: digestBytes(prompt), depends_on: s.deps };
  });
  const gate: Gate = {
    kind: "gate",
    schema_version: "1",
    gate_id: "write-gate",
    category: "write",
    trigger: "implement writes to the repository",
    safe_default: "do not dispatch",
    source: "worker-permission",
    packets: ["implement"],
    requires_approval: true,
  };
  const g = writeArtifact(path.join(runDir, "gates", "write-gate.json"), "gate", gate);
  const run: Run = {
    kind: "run",
    schema_version: "1",
    run_id: runId,
    plan_id: "demo",
    plan_schema_version: "0.6",
    plan_digest: digest(plan),
    scorecard_digest: digest(scorecard),
    compiler_version: "0.1.0",
    revision: 1,
    base_commit: null,
    packets,
    gates: [{ gate_id: "write-gate", digest: g.digest }],
    handoffs: [],
  };
  writeArtifact(path.join(runDir, "run.json"), "run", run);
  return { runDir, run };
}

function readExample(rel: string): Record<string, unknown> {
  const url = new URL(`../../../../schemas/examples/${rel}`, import.meta.url);
  return JSON.parse(fs.readFileSync(url, "utf8")) as Record<string, unknown>;
}
