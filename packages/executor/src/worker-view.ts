import path from "node:path";
import { homeSecretPaths, type SandboxBind, type SandboxEndpoint, type SandboxView } from "@dwm/core";
import type { BackendName } from "@dwm/schemas";

/** Inside every worker's sandbox: DWM's hand-over folder (prompt, output folder, last message). */
export const WORKER_IO_DIR = "/tmp/dwm";

/** Paths DWM hands a worker, as the worker sees them (never a run-store path). */
export const WORKER_IO = {
  promptFile: `${WORKER_IO_DIR}/prompt.md`,
  outputDir: `${WORKER_IO_DIR}/out`,
  lastMessageFile: `${WORKER_IO_DIR}/last-message.md`,
} as const;

/** Where one attempt's worker runs, on the host, and what it may reach. */
export interface WorkerLayout {
  /** The worker's checkout (a repository of its own: see WorkerCheckout). */
  checkout: string;
  /** Read-write for a worker that may write; read-only otherwise (it can then change nothing). */
  checkoutWritable: boolean;
  /** The repository's object folders (and their alternates): read-only, so history cannot be deleted. */
  objectDirs: readonly string[];
  /** A host folder shown read-write at WORKER_IO_DIR: DWM puts the prompt in, copies `out/` back. */
  ioDir: string;
  /** Host folder of the handoff inputs, shown read-only at `<checkout>/.dwm-inputs`; null when none. */
  inputsDir: string | null;
  /** Every run-store root DWM knows of (`<repo>/.dwm`, a `--store`): hidden. */
  stores: readonly string[];
  /** The operator's home folder: its credential places are hidden. */
  home: string | undefined;
  /** More paths to hide (DWM's config and key folders when they live elsewhere). */
  hidden?: readonly string[];
  /**
   * The worker's private agent home (its CLI's config home, made for this attempt and removed
   * with it): read-write. Never the operator's `~/.codex` or `~/.claude`: those are hidden.
   */
  agentHomes?: readonly string[];
  network: SandboxView["network"];
  /** Folders of programs the worker runs that the private /tmp would hide (PATH entries there): read-only. */
  programs?: readonly string[];
}

/** Folder in a checkout where handoff inputs appear (read-only). */
const INPUTS_DIR = ".dwm-inputs";

/** The sandbox view of one worker: what it sees read-write, read-only, and not at all. */
export function workerView(layout: WorkerLayout): SandboxView {
  const binds: SandboxBind[] = [
    // The home folder read-only at its own place (one under /tmp is otherwise hidden by the
    // private /tmp); its credential places are hidden below, agent homes bound writable after it.
    ...(layout.home === undefined ? [] : [{ source: layout.home, writable: false }]),
    ...(layout.programs ?? []).map((d) => ({ source: d, writable: false })),
    // Object folders next: a repository kept under /tmp is otherwise hidden by the private /tmp.
    ...layout.objectDirs.map((d) => ({ source: d, writable: false })),
    { source: layout.checkout, writable: layout.checkoutWritable },
    { source: layout.ioDir, target: WORKER_IO_DIR, writable: true },
    ...(layout.agentHomes ?? []).map((d) => ({ source: d, writable: true })),
  ];
  if (layout.inputsDir !== null) {
    binds.push({ source: layout.inputsDir, target: path.join(layout.checkout, INPUTS_DIR), writable: false });
  }
  return {
    binds,
    hidden: [
      ...layout.stores,
      ...(layout.home === undefined ? [] : homeSecretPaths(layout.home)),
      ...(layout.hidden ?? []),
    ],
    network: layout.network,
  };
}

const LOOPBACK_HOST = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]|localhost)$/i;

/** The loopback endpoint of a base URL (`http://127.0.0.1:8080/v1` → 127.0.0.1:8080), or null. */
export function loopbackEndpoint(baseUrl: string): SandboxEndpoint | null {
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    return null;
  }
  if (!LOOPBACK_HOST.test(u.hostname)) return null;
  const port = u.port !== "" ? Number(u.port) : u.protocol === "https:" ? 443 : 80;
  return { host: u.hostname.replace(/^\[|\]$/g, ""), port };
}

/**
 * The network a worker gets. A shell or command worker: the host's network when its
 * permissions allow it, none otherwise. An agent CLI always needs its model endpoint, whatever
 * the plan says about its tools: with `network: false` it reaches that endpoint only, when the
 * endpoint is on the loopback interface; an endpoint elsewhere (the vendor's API, a remote
 * gateway) cannot be singled out yet, so it gets the host's network and `note` says so.
 */
export function workerNetwork(
  backend: BackendName,
  network: boolean,
  baseUrl: string | undefined,
): { network: SandboxView["network"]; note: string | null } {
  if (network) return { network: "host", note: null };
  if (backend !== "codex" && backend !== "claude") return { network: "none", note: null };
  const endpoint = baseUrl === undefined ? null : loopbackEndpoint(baseUrl);
  if (endpoint !== null) return { network: { endpoints: [endpoint] }, note: null };
  return {
    network: "host",
    note: `the ${backend} worker's model endpoint (${baseUrl ?? "the vendor's API"}) is not on the loopback interface: its sandbox keeps the host's network (a per-host allow-list is not implemented)`,
  };
}
