// "Other hosts" for the scale-out tests: each `dwm worker` in a network and mount namespace of its
// own (unshare), joined to this one by a veth pair with addresses of its own, its root file
// system read-only and a fresh /tmp, so it shares no files with the coordinator and reaches Redis
// and the git remote only over the network. Everything made here is the test's own: namespaces
// (they end with their worker process), veth pairs and addresses in 10.213.0.0/16, removed in
// dispose() (and a worker's pair goes with its namespace when it is killed).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { BIN, type DwmProcess } from "./built-cli.js";

// The repository this test runs from (packages/cli/dist/bin.js is three levels down).
const CHECKOUT = path.resolve(path.dirname(BIN), "../../..");

/** Why namespaces cannot be made here (not root, no unshare or ip), or null when they can. */
export function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0)
    return "the namespace tests make network namespaces and veth pairs: they run as root";
  for (const [program, arg] of [
    ["unshare", "--version"],
    ["ip", "-V"],
    ["git", "--version"],
  ] as const) {
    if (spawnSync(program, [arg], { stdio: "ignore" }).status !== 0) return `${program} is not installed`;
  }
  if (spawnSync("git", ["daemon", "--help"], { stdio: "ignore" }).error) return "git daemon is not installed";
  return null;
}

function ip(...args: string[]): string {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** A /24 of 10.213.0.0/16 that no interface here uses yet. */
function freeSubnet(): number {
  const used = ip("-o", "-4", "addr");
  for (let i = 0; i < 50; i++) {
    const n = 1 + crypto.randomInt(250);
    if (!used.includes(`10.213.${n}.`)) return n;
  }
  throw new Error("no free 10.213.x.0/24 subnet");
}

export interface NsWorker {
  process: DwmProcess;
  /** Its address inside its namespace. */
  address: string;
  /** What its namespace looked like from inside before dwm started (its addresses, whether the test's files were hidden). */
  inside: Promise<{ addresses: string[]; hidden: boolean }>;
}

/**
 * The test's network: a service address (`svc`) on a veth pair of its own in this namespace, where
 * Redis and the git daemon listen, and worker namespaces routed to it through a veth pair each.
 */
export class NetLab {
  readonly svc: string;
  private readonly tag = crypto.randomBytes(2).toString("hex");
  private readonly subnet: number;
  private readonly links: string[] = [];
  private readonly children: ChildProcess[] = [];
  private workers = 0;

  constructor() {
    this.subnet = freeSubnet();
    this.svc = `10.213.${this.subnet}.1`;
    const [a, b] = [`dwm${this.tag}s0`, `dwm${this.tag}s1`];
    ip("link", "add", a, "type", "veth", "peer", "name", b);
    this.links.push(a);
    try {
      ip("addr", "add", `${this.svc}/32`, "dev", a);
      ip("link", "set", a, "up");
      ip("link", "set", b, "up");
    } catch (e) {
      spawnSync("ip", ["link", "del", a], { stdio: "ignore" });
      throw e;
    }
  }

  /**
   * Start `dwm worker args…` in a network and mount namespace of its own: a veth pair to this
   * namespace (addresses 10.213.<subnet>.<4i+1|4i+2>/30, default route to the service address's
   * side), the root file system read-only, a fresh tmpfs on /tmp (so `hide`, the test's folders,
   * and everything else the coordinator wrote there are gone), HOME and TMPDIR in it.
   */
  worker(args: string[], env: Record<string, string>, hide: readonly string[]): NsWorker {
    const i = ++this.workers;
    const host = `10.213.${this.subnet}.${4 * i + 1}`;
    const address = `10.213.${this.subnet}.${4 * i + 2}`;
    const outside = `dwm${this.tag}h${i}`;
    const inside = `dwm${this.tag}w${i}`;
    const tmp = os.tmpdir();
    const underTmp = [tmp, "/tmp"].some((t) => CHECKOUT === t || CHECKOUT.startsWith(`${t}/`));
    const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
    const script = [
      "set -e",
      "echo ns-made",
      "read go",
      "ip link set lo up",
      `ip addr add ${address}/30 dev ${inside}`,
      `ip link set ${inside} up`,
      `ip route add default via ${host}`,
      "mount -o remount,bind,ro /",
      // A checkout under the temp folder (a CI clone in /tmp) is the worker's program: kept aside on
      // /mnt while the fresh tmpfs goes over the temp folder, then bound back at its own path.
      ...(underTmp ? [`mount --bind ${q(CHECKOUT)} /mnt`] : []),
      `mount -t tmpfs -o mode=1777,size=512m tmpfs ${q(tmp)}`,
      ...(tmp === "/tmp" ? [] : ["mount -t tmpfs -o mode=1777,size=512m tmpfs /tmp"]),
      ...(underTmp ? [`mkdir -p ${q(CHECKOUT)}`, `mount --bind /mnt ${q(CHECKOUT)}`, "umount /mnt"] : []),
      `mkdir -p ${q(`${tmp}/home`)}`,
      `echo "ns-addresses $(ip -o -4 addr show | awk '{print $4}' | tr '\\n' ' ')"`,
      `if ${hide.map((h) => `[ ! -e ${q(h)} ]`).join(" && ") || "true"}; then echo ns-hidden yes; else echo ns-hidden no; fi`,
      `exec ${q(process.execPath)} ${q(BIN)} ${args.map(q).join(" ")}`,
    ].join("\n");
    const child = spawn(
      "unshare",
      ["--net", "--mount", "--propagation", "private", "--", "sh", "-c", script],
      {
        cwd: "/",
        env: { PATH: process.env.PATH, ...env, HOME: `${tmp}/home`, TMPDIR: tmp },
        stdio: ["pipe", "pipe", "pipe"],
      },
    ) as DwmProcess;
    this.children.push(child);
    child.out = [];
    let buf = "";
    let made: () => void = () => {};
    const ready = new Promise<void>((resolve) => {
      made = resolve;
    });
    let insideSeen: (v: { addresses: string[]; hidden: boolean }) => void = () => {};
    const seen = new Promise<{ addresses: string[]; hidden: boolean }>((r) => {
      insideSeen = r;
    });
    let addresses: string[] = [];
    child.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split("\n");
      buf = lines.pop() ?? "";
      for (const l of lines) {
        if (l === "ns-made") made();
        else if (l.startsWith("ns-addresses ")) addresses = l.slice(13).trim().split(/\s+/);
        else if (l.startsWith("ns-hidden ")) insideSeen({ addresses, hidden: l === "ns-hidden yes" });
        else child.out.push(l);
      }
    });
    child.stderr?.on("data", (d: Buffer) => child.out.push(`stderr: ${d.toString().trim()}`));
    void ready.then(() => {
      // The namespace exists (unshare made it before sh ran): give it its end of a veth pair.
      try {
        ip("link", "add", outside, "type", "veth", "peer", "name", inside, "netns", String(child.pid));
        this.links.push(outside);
        ip("addr", "add", `${host}/30`, "dev", outside);
        ip("link", "set", outside, "up");
        child.stdin?.write("go\n");
      } catch (e) {
        child.out.push(`netns: ${e instanceof Error ? e.message : String(e)}`);
        child.kill("SIGKILL");
      }
    });
    return { process: child, address, inside: seen };
  }

  /** Kill the workers still running (their namespaces and veth pairs go with them) and remove the pairs made here. */
  async dispose(): Promise<void> {
    await Promise.all(
      this.children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once("exit", () => resolve());
            c.kill("SIGKILL");
          }),
      ),
    );
    for (const l of this.links) spawnSync("ip", ["link", "del", l], { stdio: "ignore" });
  }
}

/** A port free on `address` now (the kernel's choice). */
function freePort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, address, () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === "object" && a !== null ? a.port : 0));
    });
  });
}

function connects(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: address, port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** A git daemon serving the repositories in `base` on `address`, pushes allowed (receive-pack): the test's own remote. */
export async function startGitDaemon(
  base: string,
  address: string,
): Promise<{ url: (repo: string) => string; stop: () => Promise<void> }> {
  const port = await freePort(address);
  const child = spawn(
    "git",
    [
      "daemon",
      "--reuseaddr",
      "--export-all",
      "--enable=receive-pack",
      "--informative-errors",
      `--base-path=${base}`,
      `--listen=${address}`,
      `--port=${port}`,
      base,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let err = "";
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  for (let i = 0; !(await connects(address, port)); i++) {
    if (child.exitCode !== null || i > 200) throw new Error(`git daemon did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    url: (repo: string) => `git://${address}:${port}/${repo}`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
