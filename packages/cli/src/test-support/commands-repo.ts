// examples/fan-out as a plan of command phases only (its grade step a command, no workers) over a
// few documents, in a git repository that trusts the test operator, without dwm.workers.json.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { git, makeGitRepo, type TempDir } from "@dwm/test-utils";
import { trustOperator } from "./operator.js";

const EXAMPLE = fileURLToPath(new URL("../../../../examples/fan-out", import.meta.url));

export interface PlanPhase {
  id: string;
  worker_ids: string[];
  command?: { run: string[] };
}

export interface EditablePlan {
  phases: PlanPhase[];
  workers: unknown[];
}

/** The documents of the repository: id and word count. */
export const DOCS: readonly (readonly [string, number])[] = [
  ["alpha", 50],
  ["beta", 20],
  ["gamma", 3],
];

/** examples/fan-out over DOCS, its plan edited by `edit`, without dwm.workers.json, committed. */
export function fanoutRepoWith(edit: (plan: EditablePlan) => void): TempDir {
  const repo = makeGitRepo({ ".gitignore": ".dwm/\n" });
  fs.cpSync(EXAMPLE, repo.path, { recursive: true });
  fs.rmSync(path.join(repo.path, "dwm.workers.json"));
  fs.rmSync(path.join(repo.path, "docs"), { recursive: true });
  fs.mkdirSync(path.join(repo.path, "docs"));
  for (const [id, words] of DOCS)
    fs.writeFileSync(path.join(repo.path, "docs", `${id}.md`), `# ${id}\n\n${"word ".repeat(words)}\n`);
  const file = path.join(repo.path, "workflow.plan.json");
  const plan = JSON.parse(fs.readFileSync(file, "utf8")) as EditablePlan;
  edit(plan);
  fs.writeFileSync(file, `${JSON.stringify(plan, null, 2)}\n`);
  git(repo.path, "add", "-A");
  git(repo.path, "commit", "-q", "-m", "fan-out of commands");
  trustOperator(repo.path);
  return repo;
}

/** The grade step as a command phase; the grade-worker kept (unused) when `keepWorker`. */
export function commandsOnly(keepWorker: boolean): (plan: EditablePlan) => void {
  return (plan) => {
    const grade = plan.phases.find((p) => p.id === "grade") as PlanPhase;
    grade.worker_ids = [];
    grade.command = { run: ["node", "scripts/grade.mjs"] };
    if (!keepWorker) plan.workers = [];
  };
}
