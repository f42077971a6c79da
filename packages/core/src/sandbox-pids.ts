import fs from "node:fs";
import path from "node:path";

/** How a sandboxed process's number of processes is bounded, and what to undo after it. */
export interface PidsLimit {
  /**
   * `cgroup`: a pids cgroup of its own; `rlimit`: RLIMIT_NPROC (prlimit), which the kernel does
   * not apply to root; `none`: neither can be had (no writable cgroup, no prlimit).
   */
  kind: "cgroup" | "rlimit" | "none";
  /** Put in front of the bwrap argv (cgroup: a shell that joins the cgroup, then execs). */
  outside: string[];
  /** Put in front of the command inside the sandbox (rlimit: prlimit). */
  inside: string[];
  /** Remove the cgroup once every process in it ended. */
  release(): Promise<void>;
}

const CGROUP_ROOT = "/sys/fs/cgroup";

/** This process's cgroup folder of the pids controller (v1) or of the unified hierarchy (v2), or null. */
function ownPidsCgroup(): string | null {
  let lines: string[];
  try {
    lines = fs.readFileSync("/proc/self/cgroup", "utf8").split("\n");
  } catch {
    return null;
  }
  for (const line of lines) {
    const [, controllers, rel] = line.split(":");
    if (rel === undefined) continue;
    if (controllers?.split(",").includes("pids")) return path.join(CGROUP_ROOT, "pids", rel);
  }
  const unified = lines.find((l) => l.startsWith("0::"));
  if (unified === undefined) return null;
  const dir = path.join(CGROUP_ROOT, unified.slice(3));
  const controllers = fs.readFileSync(path.join(CGROUP_ROOT, "cgroup.controllers"), {
    encoding: "utf8",
    flag: "r",
  });
  return controllers.split(/\s+/).includes("pids") ? dir : null;
}

/** A fresh pids cgroup below this process's, with `pids.max` set; null where none can be made. */
function makeCgroup(max: number): string | null {
  try {
    const parent = ownPidsCgroup();
    if (parent === null) return null;
    const dir = fs.mkdtempSync(path.join(parent, "dwm-sandbox-"));
    try {
      fs.writeFileSync(path.join(dir, "pids.max"), String(max));
      return dir;
    } catch {
      fs.rmdirSync(dir);
      return null;
    }
  } catch {
    return null;
  }
}

async function removeCgroup(dir: string): Promise<void> {
  // The PID namespace is gone with its first process; its last processes may still be reaped.
  for (let i = 0; i < 50; i++) {
    try {
      fs.rmdirSync(dir);
      return;
    } catch (e) {
      if ((e as { code?: string }).code === "ENOENT") return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/**
 * At most `max` processes for one sandboxed command (a fork bomb stays a bounded one): a pids
 * cgroup of its own where this process may make one (root, or a delegated cgroup), else
 * RLIMIT_NPROC through `prlimit` inside the sandbox (the kernel applies it per user namespace to
 * users other than root). bubblewrap has no option of its own for it.
 */
export function limitPids(max: number): PidsLimit {
  const dir = makeCgroup(max);
  if (dir !== null) {
    const procs = path.join(dir, "cgroup.procs");
    return {
      kind: "cgroup",
      // Join the cgroup before bwrap starts: everything inside is then counted.
      outside: ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', procs],
      inside: [],
      release: () => removeCgroup(dir),
    };
  }
  const prlimit = ["/usr/bin/prlimit", "/bin/prlimit"].find((f) => fs.existsSync(f));
  if (prlimit === undefined) return { kind: "none", outside: [], inside: [], release: async () => undefined };
  return {
    kind: "rlimit",
    outside: [],
    inside: [prlimit, `--nproc=${max}:${max}`, "--"],
    release: async () => undefined,
  };
}
