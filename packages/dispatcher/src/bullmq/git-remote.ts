import type { GitPort } from "@dwm/executor";
import { dispatcherErrors } from "../errors.js";
import type { RunIdentity } from "../run-identity.js";
import { runRefsToRemove } from "./job-rules.js";
import { runRefPrefix } from "./names.js";

// Git between a coordinator or worker and the run's remote.

/** Variables git needs to reach a remote over SSH or with a credential helper, passed through when set. */
const REMOTE_ENV_NAMES = ["SSH_AUTH_SOCK", "GIT_SSH_COMMAND", "GIT_SSH", "GIT_ASKPASS", "XDG_CONFIG_HOME"];

/** The environment extras git gets for fetch and push (on top of the executor's PATH/HOME/LANG). */
export function remoteEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of REMOTE_ENV_NAMES) {
    const v = env[n];
    if (v !== undefined) out[n] = v;
  }
  return out;
}

/** Git with the remote environment; a failure is ERR_QUEUE_REMOTE_FAILED with git's message. */
export async function gitRemote(
  git: GitPort,
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
  args: readonly string[],
  what: string,
): Promise<string> {
  const r = await git.run(cwd, args, { env: remoteEnv(env) });
  if (r.exitCode !== 0) {
    throw dispatcherErrors.create(
      "ERR_QUEUE_REMOTE_FAILED",
      `${what}: ${r.stderr.trim().slice(-600) || `git exited ${r.exitCode}`}`,
      {
        details: { args: args.filter((a) => !a.includes("@")).slice(0, 3) },
      },
    );
  }
  return r.stdout;
}

/** Git in a local repository; a failure is ERR_QUEUE_REMOTE_FAILED with git's message. */
export async function gitLocal(
  git: GitPort,
  cwd: string,
  args: readonly string[],
  env?: Record<string, string>,
): Promise<string> {
  const r = await git.run(cwd, args, env ? { env } : {});
  if (r.exitCode !== 0) {
    throw dispatcherErrors.create(
      "ERR_QUEUE_REMOTE_FAILED",
      `git ${args[0]} failed: ${r.stderr.trim().slice(-600)}`,
    );
  }
  return r.stdout;
}

/** Remove the refs a completed run instance left on the remote (runRefsToRemove), 100 per push; returns how many. */
export async function removeRunRefs(
  git: GitPort,
  env: Readonly<Record<string, string | undefined>>,
  repo: string,
  remote: string,
  run: RunIdentity,
): Promise<number> {
  const listed = await gitRemote(
    git,
    env,
    repo,
    ["ls-remote", remote, `${runRefPrefix(run)}*`],
    "listing the run's refs on the remote",
  );
  const refs = runRefsToRemove(listed, run);
  for (let i = 0; i < refs.length; i += 100) {
    await gitRemote(
      git,
      env,
      repo,
      ["push", "--quiet", "--no-verify", remote, "--delete", ...refs.slice(i, i + 100)],
      "removing the run's refs from the remote",
    );
  }
  return refs.length;
}
