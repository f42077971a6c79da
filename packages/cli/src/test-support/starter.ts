// A repository with `dwm init`'s starter workflow, and `dwm` run in this process against it,
// for the tests that drive whole runs quickly (two shell packets, about a second each).
import fs from "node:fs";
import path from "node:path";
import type { Clock } from "@dwm/core";
import { FakeClock, git, makeGitRepo, makeTempDir, trustTestOperator } from "@dwm/test-utils";
import { main } from "../main.js";
import { EXAMPLES } from "./built-cli.js";
import { operatorEnv } from "./operator.js";

export type Cleanups = (() => void)[];

/** What one in-process `dwm` printed and returned. */
export interface DwmResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Lines `dwm run` streamed (its progress). */
  lines: string[];
}

/** How to run one in-process `dwm`: another clock (default: a fake one), more environment. */
export interface DwmOptions {
  clock?: Clock;
  env?: Record<string, string>;
}

/**
 * `dwm argv` in `cwd`, in this process, with a fake clock (each call's starts at the same
 * instant) unless `options.clock` is given; its exit code and output.
 */
export async function dwm(
  cwd: string,
  argv: string[],
  cleanups: Cleanups,
  options: DwmOptions = {},
): Promise<DwmResult> {
  let stdout = "";
  let stderr = "";
  const lines: string[] = [];
  const code = await main(
    argv,
    { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) },
    {
      cwd,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TMPDIR: tmpFor(cleanups),
        ...operatorEnv(),
        ...options.env,
      },
      clock: options.clock ?? new FakeClock("2026-01-01T00:00:00.000Z", 1),
      emit: (l) => lines.push(l),
    },
  );
  return { code, stdout, stderr, lines };
}

/** A temporary folder for workers' TMPDIR, removed by `cleanups`. */
function tmpFor(cleanups: Cleanups): string {
  const t = makeTempDir("dwm-cli-tmp-");
  cleanups.push(t.cleanup);
  return t.path;
}

/**
 * A git repository (removed by `cleanups`) with a few committed files and the starter files of
 * `dwm init`; `edit` may change the starter bindings (e.g. to make a worker fail) before use.
 */
export async function starterRepo(
  cleanups: Cleanups,
  edit?: (bindings: { bindings: Record<string, { argv?: string[] }> }) => void,
): Promise<string> {
  const repo = makeGitRepo({
    "README.md": "# demo\n",
    "src/a.ts": "export const a = 1;\n",
    "src/b.ts": "\n",
  });
  cleanups.push(repo.cleanup);
  // The test operator's key (operatorEnv) signs approvals and attestations; the repository trusts it.
  trustTestOperator(repo.path);
  const init = await dwm(repo.path, ["init"], cleanups);
  if (init.code !== 0) throw new Error(`dwm init failed: ${init.stderr}`);
  if (edit) {
    const file = path.join(repo.path, "dwm.workers.json");
    const b = JSON.parse(fs.readFileSync(file, "utf8"));
    edit(b);
    fs.writeFileSync(file, `${JSON.stringify(b, null, 2)}\n`);
  }
  return repo.path;
}

/** The id of the (only) run in `repo`'s store. */
export function runIdOf(repo: string): string {
  const [id] = fs.readdirSync(path.join(repo, ".dwm", "runs"));
  if (id === undefined) throw new Error("no run");
  return id;
}

/** An inventory worker that writes what `js` makes of `files` (the tracked files) as inventory.json. */
export function inventoryWriting(js: string): (b: { bindings: Record<string, { argv?: string[] }> }) => void {
  return (b) => {
    const w = b.bindings["inventory-worker"];
    if (w) {
      w.argv = [
        "node",
        "-e",
        `const fs=require('node:fs');fs.mkdirSync('dwm-out',{recursive:true});const files=['README.md'];fs.writeFileSync('dwm-out/inventory.json',${js});console.error('wrote the inventory')`,
      ];
    }
  };
}

/** examples/<name> committed into a fresh repository (removed by `cleanups`), with `edit` applied to its bindings first. */
export function exampleRepo(
  name: string,
  cleanups: Cleanups,
  edit?: (bindings: Record<string, unknown>) => void,
): string {
  const repo = makeGitRepo({ "README.md": `# ${name}\n` });
  cleanups.push(repo.cleanup);
  fs.cpSync(path.join(EXAMPLES, name), repo.path, { recursive: true });
  if (edit) {
    const file = path.join(repo.path, "dwm.workers.json");
    const b = JSON.parse(fs.readFileSync(file, "utf8"));
    edit(b);
    fs.writeFileSync(file, `${JSON.stringify(b, null, 2)}\n`);
  }
  trustTestOperator(repo.path);
  git(repo.path, "add", "-A");
  git(repo.path, "commit", "-q", "-m", name);
  return repo.path;
}
