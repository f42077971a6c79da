import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { coreErrors } from "./errors.js";
import { isInside } from "./paths.js";
import type { ProcessRequest, ProcessRunner } from "./ports.js";
import { nodeProcessRunner } from "./process-runner.js";
import type { PreparedSpawn, Sandbox, SandboxEndpoint, SandboxProbe, SandboxView } from "./sandbox.js";
import { limitPids } from "./sandbox-pids.js";

/** Options of `bubblewrapSandbox`. */
export interface BubblewrapOptions {
  /** The bwrap program: a name looked up on PATH, or a path. Default `bwrap`. */
  bwrap?: string;
  /** Runs the probe. Default `nodeProcessRunner`. */
  runner?: ProcessRunner;
  /** The PATH `bwrap` is looked up on (probe and spawns). Default: this process's PATH. */
  path?: string | undefined;
  /** Where endpoint relays make their sockets (a private folder each). Default: the system temp folder. */
  relayRoot?: string;
  /**
   * At most this many processes inside one sandbox (a fork bomb stays bounded): a pids cgroup
   * where one can be made, else RLIMIT_NPROC (see `limitPids`). Default 1024; 0: no limit.
   */
  maxProcesses?: number;
}

const DEFAULT_MAX_PROCESSES = 1024;

// Sockets of system services live here (D-Bus, systemd, docker, ssh and gpg agents of
// /run/user/<uid>): a process that can connect to one can often act with the service's powers,
// whatever its own file-system view. Hidden from every sandboxed process.
const SYSTEM_HIDDEN = ["/run", "/var/run"];

/** Inside the private /tmp: where the endpoint relay's sockets and script appear. */
const RELAY_INSIDE = "/tmp/.dwm-relay";

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$/i;

function real(p: string): string | null {
  try {
    return fs.realpathSync(p);
  } catch {
    return null;
  }
}

function viewError(message: string, details: Record<string, unknown>): Error {
  return coreErrors.create("ERR_SANDBOX_VIEW", message, { details });
}

/** The relay script (built beside this module; from source, the built copy). */
function relayScript(): string {
  const here = new URL(import.meta.url);
  const beside = fileURLToPath(new URL("./sandbox-relay.js", here));
  if (fs.existsSync(beside)) return beside;
  return fileURLToPath(new URL("../dist/sandbox-relay.js", here));
}

function hiddenArgs(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    const st = fs.statSync(p, { throwIfNoEntry: false });
    if (st === undefined) continue;
    // A folder becomes an empty read-only one, a file (or socket) the empty /dev/null.
    if (st.isDirectory()) out.push("--tmpfs", p, "--remount-ro", p);
    else out.push("--ro-bind", "/dev/null", p);
  }
  return out;
}

/**
 * bwrap's arguments (before `--` and the command) for a view: the host read-only, a private /tmp,
 * /dev and /proc, the hidden paths, then the binds in order; every namespace unshared (the
 * network kept only for `host`), no capabilities, its own session, ended with its parent.
 * Paths are resolved (symbolic links followed) first, since bwrap mounts at real paths.
 */
export function bubblewrapArgs(view: SandboxView, cwd: string, extraBinds: readonly string[] = []): string[] {
  const args = ["--unshare-all"];
  if (view.network === "host") args.push("--share-net");
  args.push("--die-with-parent", "--new-session", "--cap-drop", "ALL");
  args.push(
    "--ro-bind",
    "/",
    "/",
    "--dev",
    "/dev",
    "--tmpfs",
    "/dev/shm",
    "--proc",
    "/proc",
    "--tmpfs",
    "/tmp",
  );

  const binds = view.binds.map((b) => {
    const source = real(b.source);
    if (source === null)
      throw viewError(`sandbox bind source ${b.source} does not exist`, { source: b.source });
    const target = b.target === undefined ? source : path.resolve(b.target);
    return { source, target, writable: b.writable };
  });
  const targets = binds.map((b) => b.target);
  const mountable = (t: string) =>
    fs.existsSync(t) || isInside("/tmp", t) || binds.some((b) => b.writable && isInside(b.target, t));
  for (const t of targets) {
    if (!mountable(t)) throw viewError(`sandbox bind target ${t} does not exist`, { target: t });
  }

  // A hidden path inside a bind is hidden after it; one under the private /tmp and outside
  // every bind is not visible anyway.
  const underBind = (p: string) => targets.some((t) => isInside(t, p));
  const hidden = [...SYSTEM_HIDDEN, ...view.hidden]
    .map(real)
    .filter((p): p is string => p !== null && (underBind(p) || !isInside("/tmp", p)));
  // A path inside another hidden one is gone with it (and could not be mounted over: its parent
  // is an empty read-only folder by then).
  const unique = [...new Set(hidden)].filter((p, _, all) => !all.some((q) => q !== p && isInside(q, p)));
  args.push(...hiddenArgs(unique.filter((p) => !underBind(p))));
  for (const b of binds) args.push(b.writable ? "--bind" : "--ro-bind", b.source, b.target);
  args.push(...extraBinds);
  args.push(...hiddenArgs(unique.filter(underBind)));
  args.push("--chdir", real(cwd) ?? cwd);
  return args;
}

interface Relay {
  dir: string;
  spec: { host: string; port: number; socket: string }[];
  close(): Promise<void>;
}

/** Unix sockets on the host, one per endpoint, each piping its connections to the endpoint. */
async function startRelay(endpoints: readonly SandboxEndpoint[], root: string): Promise<Relay> {
  const dir = fs.mkdtempSync(path.join(root, "dwm-relay-"));
  fs.chmodSync(dir, 0o700);
  const servers: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  const spec: Relay["spec"] = [];
  const close = async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(() => r(undefined)))));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const [i, e] of endpoints.entries()) {
      const name = `e${i}.sock`;
      const server = net.createServer((inside) => {
        const outside = net.connect({ host: e.host, port: e.port });
        for (const s of [inside, outside]) {
          sockets.add(s);
          s.on("close", () => sockets.delete(s));
          s.on("error", () => {
            inside.destroy();
            outside.destroy();
          });
        }
        inside.pipe(outside);
        outside.pipe(inside);
      });
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(path.join(dir, name), () => resolve());
      });
      spec.push({ host: e.host, port: e.port, socket: `${RELAY_INSIDE}/${name}` });
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { dir, spec, close };
}

/**
 * The argv up to the command for a view with endpoints: the relay started on the host, its
 * socket folder and script bound in (`prefix` gets those binds), and the relay inside starting
 * the command after a final `--`. `close` stops the relay.
 */
async function relayedArgv(
  endpoints: readonly SandboxEndpoint[],
  root: string,
  prefix: (extraBinds: string[]) => string[],
): Promise<{ argv: string[]; close: () => Promise<void> }> {
  const relay = await startRelay(endpoints, root);
  try {
    const extra = [
      "--ro-bind",
      relay.dir,
      RELAY_INSIDE,
      "--ro-bind",
      relayScript(),
      `${RELAY_INSIDE}-bin/relay.js`,
    ];
    let node = real(process.execPath) ?? process.execPath;
    if (isInside("/tmp", node)) {
      extra.push("--ro-bind", node, `${RELAY_INSIDE}-bin/node`);
      node = `${RELAY_INSIDE}-bin/node`;
    }
    const argv = [...prefix(extra), node, `${RELAY_INSIDE}-bin/relay.js`, JSON.stringify(relay.spec)];
    return { argv, close: relay.close };
  } catch (e) {
    await relay.close();
    throw e;
  }
}

async function probeBwrap(
  bwrap: string,
  runner: ProcessRunner,
  pathVar: string | undefined,
): Promise<SandboxProbe> {
  if (process.platform !== "linux") {
    return {
      ok: false,
      name: "bubblewrap",
      version: null,
      reason: `bubblewrap is Linux-only; this is ${process.platform}`,
    };
  }
  const env = { PATH: pathVar ?? process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin", LANG: "C" };
  const v = await runner.run({ argv: [bwrap, "--version"], cwd: "/", env, timeoutMs: 15_000 });
  if (v.spawnError !== null || v.exitCode !== 0) {
    return {
      ok: false,
      name: "bubblewrap",
      version: null,
      reason:
        v.spawnError === "ENOENT"
          ? `${bwrap} is not installed (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap)`
          : `${bwrap} --version failed: ${v.spawnError ?? v.stderr.trim()}`,
    };
  }
  const version = /(\d+\.\d+(\.\d+)?)/.exec(v.stdout)?.[1] ?? null;
  const view: SandboxView = { binds: [], hidden: [], network: "none" };
  const r = await runner.run({
    argv: [bwrap, ...bubblewrapArgs(view, "/"), "--", "true"],
    cwd: "/",
    env,
    timeoutMs: 15_000,
  });
  if (r.exitCode === 0) return { ok: true, name: "bubblewrap", version, reason: null };
  const said = r.stderr.trim().split("\n").slice(-1)[0] ?? "";
  const userns = /namespace|Operation not permitted|setting up uid map/i.test(said);
  return {
    ok: false,
    name: "bubblewrap",
    version,
    reason: userns
      ? `bwrap cannot create namespaces here (${said}): enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1; on Ubuntu 24.04 an AppArmor profile for bwrap), or run in a container that allows them`
      : `bwrap failed: ${said || `exit ${r.exitCode}`}`,
  };
}

/**
 * The Linux sandbox, on bubblewrap (`bwrap`, Debian package `bubblewrap`): each process in its
 * own mount, PID, IPC, UTS and network namespaces, without capabilities. Endpoints of a view
 * are reached through a relay: a Unix socket per endpoint on the host, and inside the sandbox a
 * small Node process listening on the endpoint's address that starts the command.
 */
export function bubblewrapSandbox(options: BubblewrapOptions = {}): Sandbox {
  const bwrap = options.bwrap ?? "bwrap";
  const runner = options.runner ?? nodeProcessRunner;
  return {
    name: "bubblewrap",
    isolates: true,
    probe: () => probeBwrap(bwrap, runner, options.path),
    async prepare(request: ProcessRequest, view: SandboxView): Promise<PreparedSpawn> {
      const endpoints = typeof view.network === "object" ? view.network.endpoints : [];
      for (const e of endpoints) {
        if (!LOOPBACK.test(e.host)) {
          throw viewError(`sandbox endpoint ${e.host}:${e.port} is not on the loopback interface`, {
            host: e.host,
            port: e.port,
          });
        }
      }
      // The private /tmp hides TMPDIR when it points elsewhere.
      const env = request.env.TMPDIR === undefined ? request.env : { ...request.env, TMPDIR: "/tmp" };
      const max = options.maxProcesses ?? DEFAULT_MAX_PROCESSES;
      const pids = max > 0 ? limitPids(max) : null;
      const outside = pids?.outside ?? [];
      const inside = pids?.inside ?? [];
      const releasePids = async () => pids?.release();
      if (endpoints.length === 0) {
        const argv = [
          ...outside,
          bwrap,
          ...bubblewrapArgs(view, request.cwd),
          "--",
          ...inside,
          ...request.argv,
        ];
        return { request: { ...request, argv, env }, dispose: releasePids };
      }
      try {
        const relayed = await relayedArgv(endpoints, options.relayRoot ?? os.tmpdir(), (extra) => [
          ...outside,
          bwrap,
          ...bubblewrapArgs(view, request.cwd, extra),
          "--",
          ...inside,
        ]);
        const argv = [...relayed.argv, "--", ...request.argv];
        return {
          request: { ...request, argv, env },
          dispose: async () => {
            await relayed.close();
            await releasePids();
          },
        };
      } catch (e) {
        await releasePids();
        throw e;
      }
    },
  };
}
