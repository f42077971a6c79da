// One side of the run-loop scenario in a process of its own, so its peak RSS is its own:
//   node runloop-side.mjs floor N   a bare Node pool of 8 doing the per-job git work
//   node runloop-side.mjs dwm N     runWorkflow on N no-op shell packets at concurrency 8
// Prints one JSON line: { ms, rssMiB, hostRssMiB } (hostRssMiB: the dwm side's process host).
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { load } from "../lib.mjs";
import { CONCURRENCY, makeRepo, preparedNoopRun } from "../plans.mjs";

const execP = promisify(execFile);
// The environment the executor gives git (PATH, HOME, C locale, no prompts), so both sides do the same work.
const GIT_ENV = {
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  LANG: "C",
  LC_ALL: "C",
  GIT_TERMINAL_PROMPT: "0",
};
const exec = (cmd, args, opts) => execP(cmd, args, { ...opts, env: GIT_ENV });

/** The floor: 8 workers, worktree admin serialized (../shared/notes/git-worktrees.md), the same no-op and git reads per job. */
async function floor(n) {
  const { dir, head } = makeRepo();
  const wtRoot = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-bench-floor-wt-"));
  let admin = Promise.resolve();
  const queued = (fn) => {
    const p = admin.then(fn);
    admin = p.then(
      () => {},
      () => {},
    );
    return p;
  };
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) {
        const i = next++;
        const wt = path.join(wtRoot, `wt-${i}`);
        await queued(() =>
          exec("git", ["worktree", "add", "--quiet", "-B", `floor/${i}`, wt, head], { cwd: dir }),
        );
        await exec("true", [], { cwd: wt });
        await exec("git", ["status", "--porcelain"], { cwd: wt });
        await exec("git", ["diff", "HEAD"], { cwd: wt });
        await queued(() => exec("git", ["worktree", "remove", "--force", wt], { cwd: dir }));
      }
    }),
  );
  const ms = performance.now() - t0;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(wtRoot, { recursive: true, force: true });
  return ms;
}

/** Peak RSS (VmHWM) of a running process, in MiB; null when it cannot be read. */
function peakMiB(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

let hostRssMiB = null;
async function dwm(n) {
  const run = await preparedNoopRun(n, { backend: "shell", argv: ["true"] });
  const wtRoot = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-bench-loop-wt-"));
  // As `dwm run` does: spawns go through a process host (core.hostProcessRunner).
  const processRunner = (await load("core")).hostProcessRunner();
  const t0 = performance.now();
  const out = await run.start({ worktreeRoot: wtRoot, processRunner });
  const ms = performance.now() - t0;
  hostRssMiB = processRunner.hostPid === null ? null : peakMiB(processRunner.hostPid);
  await processRunner.close();
  if (out.status !== "complete") throw new Error(`runloop bench: ${out.status}: ${out.detail}`);
  fs.rmSync(run.dir, { recursive: true, force: true });
  fs.rmSync(wtRoot, { recursive: true, force: true });
  return ms;
}

const [side, n] = process.argv.slice(2);
const ms = side === "floor" ? await floor(Number(n)) : await dwm(Number(n));
console.log(JSON.stringify({ ms, rssMiB: process.resourceUsage().maxRSS / 1024, hostRssMiB }));
