import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { isInside, type SandboxBind, type SandboxView } from "@dwm/core";
import { WORKER_IO_DIR, workerNetwork, workerView } from "../worker-view.js";
import type { WorkerCheckout } from "./checkout.js";
import type { Job } from "./jobs.js";

/** What every view of one attempt shares: the repository's objects, the inputs, what to hide, the home folder. */
export interface ViewBase {
  objectDirs: readonly string[];
  inputsDir: string | null;
  /** Run stores and other paths no worker or check may see. */
  hidden: readonly string[];
  home: string | undefined;
  /** PATH folders in the temp folder, for the checks (see pathBinds). */
  programs: readonly string[];
}

/** The paths no worker of this attempt may see: every run store DWM knows of, and this attempt's evidence. */
export function hiddenPaths(repo: string, attemptDir: string, extra: readonly string[]): string[] {
  return [path.join(repo, ".dwm"), attemptDir, ...extra];
}

/**
 * Folders of the worker's PATH that lie in the host's temp folder, which the sandbox's private
 * `/tmp` would hide: bound read-only so its programs stay reachable. A `node_modules/.bin` entry
 * brings its whole `node_modules` (its links point into it).
 */
export function pathBinds(pathVar: string | undefined): string[] {
  const tmp = fs.realpathSync(os.tmpdir());
  const out: string[] = [];
  for (const entry of (pathVar ?? "").split(path.delimiter)) {
    let dir: string;
    try {
      dir = fs.realpathSync(entry);
    } catch {
      continue;
    }
    if (!isInside(tmp, dir) && !isInside("/tmp", dir)) continue;
    const parts = dir.split(path.sep);
    const nm = parts.lastIndexOf("node_modules");
    const bind = nm > 0 ? parts.slice(0, nm + 1).join(path.sep) : dir;
    if (!out.some((o) => isInside(o, bind))) out.push(bind);
  }
  return out;
}

/** An agent CLI's own state folder (its config home): it must stay writable for the CLI. */
function agentHomes(job: Job, env: Readonly<Record<string, string>>): string[] {
  const home = env.HOME;
  let dir: string | undefined;
  if (job.binding.backend === "codex") dir = env.CODEX_HOME ?? (home ? path.join(home, ".codex") : undefined);
  if (job.binding.backend === "claude")
    dir = env.CLAUDE_CONFIG_DIR ?? (home ? path.join(home, ".claude") : undefined);
  if (dir === undefined) return [];
  // The CLI would make it on first use; the read-only home cannot take it then.
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return [dir];
}

/** The model endpoint an agent CLI talks to: its binding's base_url, else the one its environment names. */
function modelEndpoint(job: Job, env: Readonly<Record<string, string>>): string | undefined {
  if (job.binding.base_url !== undefined) return job.binding.base_url;
  if (job.binding.backend === "claude") return env.ANTHROPIC_BASE_URL;
  if (job.binding.backend === "codex") return env.OPENAI_BASE_URL;
  return undefined;
}

/**
 * One worker's view: its checkout (read-write when it may write or its packet declares outputs;
 * a packet's own command may),
 * its hand-over folder at /tmp/dwm, the inputs and the repository's objects read-only, run
 * stores and credentials hidden, the network its permissions and backend call for. `note` says
 * when an agent's endpoint forced the host's network.
 */
export function jobView(
  base: ViewBase,
  checkout: WorkerCheckout,
  job: Job,
  hostIoDir: string,
  env: Readonly<Record<string, string>>,
  declaresOutputs: boolean,
  inView: readonly SandboxBind[] | null = null,
): { view: SandboxView; note: string | null } {
  const net = workerNetwork(job.binding.backend, job.permissions?.network ?? false, modelEndpoint(job, env));
  const view = workerView({
    programs: pathBinds(env.PATH),
    checkout: checkout.dir,
    // A read-only worker still writes its packet's declared outputs (files in the checkout, which
    // a bind cannot single out before they exist): its checkout is writable then, and any other
    // change it makes is a read-only-violation finding (enforce.ts).
    // In the shared view (inView: its binds) only the output folder is writable.
    checkoutWritable: inView === null && ((job.permissions?.write ?? true) || declaresOutputs),
    ...(inView === null ? {} : { checkoutBinds: inView }),
    objectDirs: base.objectDirs,
    ioDir: hostIoDir,
    inputsDir: base.inputsDir,
    stores: base.hidden,
    home: base.home,
    agentHomes: agentHomes(job, env),
    network: net.network,
  });
  return { view, note: net.note === null ? null : `${job.workerId}: ${net.note}` };
}

/**
 * The view of DWM's checks: a clean checkout of the attempt's commit, writable (on the shared
 * view, `inView`: the view read-only and a fresh copy of the output folder writable); no network.
 */
export function checkView(
  base: ViewBase,
  checkout: WorkerCheckout,
  hostIoDir: string,
  inView: readonly SandboxBind[] | null = null,
): SandboxView {
  return workerView({
    programs: base.programs,
    checkout: checkout.dir,
    checkoutWritable: inView === null,
    ...(inView === null ? {} : { checkoutBinds: inView }),
    objectDirs: base.objectDirs,
    ioDir: hostIoDir,
    inputsDir: base.inputsDir,
    stores: base.hidden,
    home: base.home,
    network: "none",
  });
}

export { WORKER_IO_DIR };
