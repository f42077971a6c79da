// Helpers of the scale-out process tests (dwm run --queue, dwm worker): waiting for a condition,
// what DWM left on a git remote and in Redis, how often each packet ran.
import type { ChildProcess } from "node:child_process";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { git } from "@dwm/test-utils";

/** Poll `f` until it returns something truthy (every 10 ms, up to 30 s); fails if `child` exits first. */
export async function until<T>(
  what: string,
  f: () => T | undefined | null | false,
  child?: ChildProcess,
): Promise<T> {
  for (let i = 0; i < 3000; i++) {
    const v = f();
    if (v) return v;
    if (child && child.exitCode !== null)
      throw new Error(`exited (${child.exitCode}) while waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The refs DWM keeps on a remote (`refs/dwm/…`, and `refs/heads/dwm/…` of older versions). */
export function dwmRemoteRefs(cwd: string, remote: string): string[] {
  return git(cwd, "ls-remote", remote)
    .split("\n")
    .map((l) => l.split("\t")[1] ?? "")
    .filter((r) => r.startsWith("refs/dwm/") || r.startsWith("refs/heads/dwm/"));
}

/** How often each line occurs in a side-effect log (one line per packet run). */
export function ranCounts(log: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of fs.readFileSync(log, "utf8").trim().split("\n")) out[l] = (out[l] ?? 0) + 1;
  return out;
}

const LISTS = ["wait", "active", "paused"];
const SETS = ["completed", "failed", "delayed", "prioritized", "waiting-children"];

/**
 * Every attempt job Redis still holds under `prefix`, in any state: the keys of jobs (a job id
 * holds a slash), and the non-empty state lists and sets of each lane's queue, as
 * `<queue>:<state>=<count>`. Empty: no job was left behind. Read with redis-cli.
 */
export function jobsInRedis(port: number, prefix = "dwm", cliArgs: readonly string[] = []): string[] {
  const cli = (input: string) => {
    const r = spawnSync("redis-cli", ["-p", String(port), ...cliArgs], { input, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`redis-cli failed: ${r.stderr}`);
    return r.stdout.split("\n").filter((l) => l !== "");
  };
  const scan = (pattern: string) => {
    const r = spawnSync("redis-cli", ["-p", String(port), ...cliArgs, "--scan", "--pattern", pattern], {
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`redis-cli --scan failed: ${r.stderr}`);
    return r.stdout.split("\n").filter((l) => l !== "");
  };
  const out = scan(`${prefix}:*/*`).sort();
  const queues = scan(`${prefix}:attempts.*:meta`).map((k) => k.slice(0, -":meta".length));
  for (const q of queues.sort()) {
    const keys = [...LISTS.map((s) => ["LLEN", s]), ...SETS.map((s) => ["ZCARD", s])] as const;
    const counts = cli(keys.map(([cmd, s]) => `${cmd} ${q}:${s}`).join("\n"));
    keys.forEach(([, s], i) => {
      const n = Number(counts[i]);
      if (n !== 0) out.push(`${q}:${s}=${n}`);
    });
  }
  return out;
}
