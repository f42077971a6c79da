// Builds small run stores by hand (as the compiler would lay them out), so the
// runtime's tests need neither @dwm/compiler nor any earlier output.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { digest, digestBytes, renderArtifact, writeArtifact, writeFileAtomic } from "@dwm/core";
import type { Gate, Run } from "@dwm/schemas";
import { makeTempDir, type TempDir } from "@dwm/test-utils";

const examplesDir = fileURLToPath(new URL("../../../../schemas/examples", import.meta.url));

/** The first valid example of a schema, when its owner has written one; otherwise `fallback`. */
export function exampleOf(name: string, fallback: Record<string, unknown>): Record<string, unknown> {
  const dir = path.join(examplesDir, name, "valid");
  if (!fs.existsSync(dir)) return structuredClone(fallback);
  const first = fs.readdirSync(dir).sort()[0];
  if (!first) return structuredClone(fallback);
  return JSON.parse(fs.readFileSync(path.join(dir, first), "utf8")) as Record<string, unknown>;
}

export interface PacketSpec {
  id: string;
  deps?: string[];
  gates?: string[];
  /** The packet's declared outputs (handoffs carry a format); none by default. */
  outputs?: Record<string, unknown>[];
}

export interface TestRunStore {
  tmp: TempDir;
  /** <tmp>/.dwm/runs/<run_id> */
  runDir: string;
  storeDir: string;
  run: Run;
  /** Write a new run.json (a recompile) and return it. */
  rewriteRun(mutate: (run: Run) => void): Run;
  /** Write a file into the run dir and return its {path, digest} (for events' `files`). */
  putFile(rel: string, content: string): { path: string; digest: `sha256:${string}` };
  cleanup(): void;
}

export const DEFAULT_PACKETS: PacketSpec[] = [
  { id: "inventory" },
  { id: "implement", deps: ["inventory"], gates: ["write-gate"] },
  { id: "review", deps: ["implement"] },
];

function packetDoc(spec: PacketSpec): Record<string, unknown> {
  const p = exampleOf("packet", {});
  const doc = { ...p, packet_id: spec.id, depends_on: spec.deps ?? [], gates: spec.gates ?? [] };
  return spec.outputs ? { ...doc, outputs: spec.outputs } : doc;
}

function gateDoc(id: string, packets: string[]): Gate {
  return {
    kind: "gate",
    schema_version: "1",
    gate_id: id,
    category: "write",
    trigger: "a worker writes to the repository",
    safe_default: "do not dispatch",
    source: "worker-permission",
    packets,
    requires_approval: true,
  };
}

/** A run store with plan, scorecard, packets, prompts, gates and run.json; no journal. */
export function makeRunStore(
  packets: PacketSpec[] = DEFAULT_PACKETS,
  runId = "demo-0123456789ab",
): TestRunStore {
  const tmp = makeTempDir("dwm-runtime-");
  const storeDir = path.join(tmp.path, ".dwm", "runs");
  const runDir = path.join(storeDir, runId);
  fs.mkdirSync(runDir, { recursive: true });
  const plan = { schema_version: "0.6", plan_id: "demo", phases: packets.map((p) => ({ id: p.id })) };
  writeFileAtomic(path.join(runDir, "plan.json"), renderArtifact(plan));
  const scorecard = exampleOf("scorecard", { kind: "scorecard", schema_version: "1", valid: true });
  writeFileAtomic(path.join(runDir, "scorecard.json"), renderArtifact(scorecard));
  writeFileAtomic(
    path.join(runDir, ".dwm-run"),
    renderArtifact({ kind: "run-marker", schema_version: "1", run_id: runId }),
  );
  const gateIds = [...new Set(packets.flatMap((p) => p.gates ?? []))].sort();
  const entries = packets.map((spec) => {
    const doc = packetDoc(spec);
    writeFileAtomic(path.join(runDir, "packets", `${spec.id}.json`), renderArtifact(doc));
    const prompt = `# ${spec.id}\n\nDo the ${spec.id} work.\n`;
    writeFileAtomic(path.join(runDir, "prompts", `${spec.id}.md`), prompt);
    return {
      packet_id: spec.id,
      digest: digest(doc),
      prompt_digest: digestBytes(prompt),
      depends_on: spec.deps ?? [],
    };
  });
  const gates = gateIds.map((g) => {
    const doc = gateDoc(
      g,
      packets.filter((p) => p.gates?.includes(g)).map((p) => p.id),
    );
    return { gate_id: g, digest: writeArtifact(path.join(runDir, "gates", `${g}.json`), "gate", doc).digest };
  });
  const store: TestRunStore = {
    tmp,
    runDir,
    storeDir,
    run: {
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
      packets: entries,
      gates,
      handoffs: [],
    },
    rewriteRun(mutate) {
      const next = structuredClone(store.run);
      mutate(next);
      writeArtifact(path.join(runDir, "run.json"), "run", next);
      store.run = next;
      return next;
    },
    putFile(rel, content) {
      writeFileAtomic(path.join(runDir, rel), content);
      return { path: rel, digest: digestBytes(content) };
    },
    cleanup: () => tmp.cleanup(),
  };
  writeArtifact(path.join(runDir, "run.json"), "run", store.run);
  return store;
}

/** Rewrite one packet file (and its index entry) as a recompile would. */
export function changePacket(store: TestRunStore, id: string, instruction: string): void {
  const file = path.join(store.runDir, "packets", `${id}.json`);
  const doc = { ...(JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>), instruction };
  writeFileAtomic(file, renderArtifact(doc));
  const planFile = path.join(store.runDir, "plan.json");
  const plan = {
    ...(JSON.parse(fs.readFileSync(planFile, "utf8")) as Record<string, unknown>),
    edited: instruction,
  };
  writeFileAtomic(planFile, renderArtifact(plan));
  store.rewriteRun((run) => {
    run.revision += 1;
    run.plan_digest = digest(plan);
    const e = run.packets.find((p) => p.packet_id === id);
    if (e) e.digest = digest(doc);
  });
}

/** Snapshot of every file's bytes and mtime under a directory (to prove nothing was written). */
export function snapshotTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      const st = fs.lstatSync(path.join(dir, p));
      if (e.isDirectory()) {
        out.set(`${p}/`, String(st.mtimeMs));
        visit(p);
      } else out.set(p, `${st.mtimeMs}:${digestBytes(fs.readFileSync(path.join(dir, p)))}`);
    }
  };
  visit("");
  return out;
}
