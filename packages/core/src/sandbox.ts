import fs from "node:fs";
import path from "node:path";
import type { ProcessRequest } from "./ports.js";

/** A TCP endpoint on the host's loopback that a sandboxed process may reach (an agent CLI's model endpoint). */
export interface SandboxEndpoint {
  /** A loopback address (127.0.0.0/8, `::1`) or `localhost`. */
  host: string;
  port: number;
}

/** One host path shown inside the sandbox. */
export interface SandboxBind {
  /** Absolute host path (file or folder). */
  source: string;
  /** Where it appears inside; default: the same path. */
  target?: string | undefined;
  /** Writes land in `source`; otherwise the bind is read-only. */
  writable: boolean;
}

/**
 * What a sandboxed process sees. The host's file system is visible read-only, except `hidden`
 * (not visible at all) and a private, empty `/tmp`; `binds` are mounted over that, in order (a
 * later bind mounts over an earlier one). It has its own PID namespace: nothing it starts
 * outlives it.
 */
export interface SandboxView {
  binds: readonly SandboxBind[];
  /** Absolute host paths it must not see (run stores, credential folders, keys); missing ones are skipped. */
  hidden: readonly string[];
  /**
   * `none`: no network at all (an empty loopback). `host`: the host's network, unrestricted.
   * `endpoints`: no network but these loopback endpoints of the host, each reachable at the same
   * address and port inside.
   */
  network: "none" | "host" | { endpoints: readonly SandboxEndpoint[] };
}

/** A process request rewritten to run inside a view, and what to release after it ended. */
export interface PreparedSpawn {
  request: ProcessRequest;
  /** Releases what `prepare` set up for this spawn (an endpoint relay); call once the process ended. */
  dispose(): Promise<void>;
}

/** Whether a sandbox works on this machine, and why not. */
export interface SandboxProbe {
  ok: boolean;
  /** The sandbox implementation (`bubblewrap`, `none`, ...). */
  name: string;
  version: string | null;
  /** Why it does not work here, and what to do about it; null when it works. */
  reason: string | null;
}

/**
 * The OS sandbox port: runs a process inside a view of the file system, PID namespace and
 * network. The real adapter is `bubblewrapSandbox`; tests use `FakeSandbox` from test-utils.
 */
export interface Sandbox {
  /** `bubblewrap`, or `none` for `noSandbox` (the operator's `--no-sandbox`). */
  readonly name: string;
  /**
   * Whether the process really runs inside the view: binds appear at their targets, hidden
   * paths are hidden. False for `noSandbox` and for test doubles, where the process sees the
   * host's paths (so paths handed to it must be host paths).
   */
  readonly isolates: boolean;
  /** Whether this sandbox works here (it runs a tiny process in a view once). */
  probe(): Promise<SandboxProbe>;
  /** `request` rewritten to run inside `view` (argv, env; the cwd must lie in the view). */
  prepare(request: ProcessRequest, view: SandboxView): Promise<PreparedSpawn>;
}

/** No sandbox at all: the process runs as the operator, with everything the operator can reach. */
export const noSandbox: Sandbox = {
  name: "none",
  isolates: false,
  probe: async () => ({ ok: true, name: "none", version: null, reason: null }),
  prepare: async (request) => ({ request, dispose: async () => undefined }),
};

// Where tools keep credentials or a way to act as the operator; relative to the home folder.
const HOME_SECRETS = [
  ".ssh",
  ".gnupg",
  ".aws",
  ".azure",
  ".kube",
  ".docker",
  ".netrc",
  ".git-credentials",
  ".npmrc",
  ".yarnrc.yml",
  ".pypirc",
  ".config/gh",
  ".config/gcloud",
  ".config/hub",
  ".config/git/credentials",
  ".config/dwm",
  ".local/share/keyrings",
  ".password-store",
  ".vault-token",
  ".terraform.d",
];

/**
 * The credential places of a home folder that a worker must not see (those that exist), DWM's
 * own config and keys (`~/.config/dwm`) among them.
 */
export function homeSecretPaths(home: string): string[] {
  return HOME_SECRETS.map((p) => path.join(home, p)).filter((p) => fs.existsSync(p));
}
