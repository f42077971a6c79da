// The CLI run in-process through `main` as its tests drive it (the command code without a process
// start-up), and example repositories to drive it in.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { FakeClock, git, makeGitRepo, type TempDir } from "@dwm/test-utils";
import { main } from "../main.js";
import { operatorEnv, trustOperator } from "./operator.js";

const EXAMPLES = fileURLToPath(new URL("../../../../examples", import.meta.url));

/** What a `dwm` command printed, and its exit code. */
export interface DwmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `dwm <argv>` in `cwd` through `main`, as the test operator, with TMPDIR `tmpdir` and a fixed clock. */
export async function dwmInProcess(
  cwd: string,
  argv: readonly string[],
  tmpdir: string,
  env: Record<string, string> = {},
): Promise<DwmResult> {
  let stdout = "";
  let stderr = "";
  const code = await main(
    [...argv],
    { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) },
    {
      cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: tmpdir, ...operatorEnv(), ...env },
      clock: new FakeClock("2026-01-01T00:00:00.000Z", 1),
      emit: () => {},
    },
  );
  return { code, stdout, stderr };
}

/**
 * examples/<name> committed into a fresh repository (.dwm/ ignored) that trusts the test operator,
 * after `edit` changed its files; its cleanup goes into `cleanups`.
 */
export function exampleRepo(
  name: string,
  cleanups: (() => void)[],
  edit: (dir: string) => void = () => {},
): TempDir {
  const repo = makeGitRepo({ ".gitignore": ".dwm/\n" });
  cleanups.push(repo.cleanup);
  fs.cpSync(path.join(EXAMPLES, name), repo.path, { recursive: true });
  edit(repo.path);
  git(repo.path, "add", "-A");
  git(repo.path, "commit", "-q", "-m", name);
  trustOperator(repo.path);
  return repo;
}

/** Rewrite the JSON file `rel` of `dir` after `edit` changed its value (two-space indented, as the examples are). */
export function editJson<T>(dir: string, rel: string, edit: (value: T) => void): void {
  const file = path.join(dir, rel);
  const value = JSON.parse(fs.readFileSync(file, "utf8")) as T;
  edit(value);
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** The complete events of a run's journal (a torn last line is left out). */
export function journalEvents(runDir: string): { type: string; data: Record<string, unknown> }[] {
  return fs
    .readFileSync(path.join(runDir, "journal.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.endsWith("}"))
    .map((l) => JSON.parse(l) as { type: string; data: Record<string, unknown> });
}
