// A repository with `dwm init`'s starter workflow, and `dwm` run in this process against it,
// for the tests that drive whole runs quickly (two shell packets, about a second each).
import fs from "node:fs";
import path from "node:path";
import type { Clock } from "@dwm/core";
import { FakeClock, makeGitRepo, makeTempDir } from "@dwm/test-utils";
import { main } from "../main.js";

export type Cleanups = (() => void)[];

/** What one in-process `dwm` printed and returned. */
export interface DwmResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Lines `dwm run` streamed (its progress). */
  lines: string[];
}

/**
 * `dwm argv` in `cwd`, in this process, with a fake clock (each call's starts at the same
 * instant) or, with `clock`, that one; its exit code and output.
 */
export async function dwm(
  cwd: string,
  argv: string[],
  cleanups: Cleanups,
  clock?: Clock,
): Promise<DwmResult> {
  let stdout = "";
  let stderr = "";
  const lines: string[] = [];
  const code = await main(
    argv,
    { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) },
    {
      cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: tmpFor(cleanups) },
      clock: clock ?? new FakeClock("2026-01-01T00:00:00.000Z", 1),
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
