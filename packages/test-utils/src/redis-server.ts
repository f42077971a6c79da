import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export interface RedisServerOptions {
  /** Append-only file on (`--appendonly yes --appendfsync always`), so a restart keeps every job. Default false: no persistence at all. */
  appendOnly?: boolean;
  /** `requirepass`: clients must AUTH with this password. */
  password?: string;
  /** The redis-server program. Default: `redis-server` on PATH. */
  program?: string;
}

/** A private redis-server on 127.0.0.1, a random free port and its own temporary directory. */
export interface RedisServer {
  readonly port: number;
  /** `redis://[:password@]127.0.0.1:<port>` */
  readonly url: string;
  readonly dir: string;
  /** Stop the server (SIGTERM, SIGKILL after a grace period); the data directory stays. */
  stopServer(): Promise<void>;
  /** Start it again on the same port and directory (with the append-only file, its data is back). */
  startServer(): Promise<void>;
  /** Stop the server and remove its directory. */
  stop(): Promise<void>;
}

/** Whether a redis-server program can be started (tests that need one skip with a reason otherwise). */
export function redisServerAvailable(program = "redis-server"): boolean {
  const r = spawnSync(program, ["--version"], { stdio: "ignore" });
  return r.status === 0;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    let buf = "";
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.on("error", () => done(false));
    s.on("connect", () => s.write("PING\r\n"));
    // +PONG, or -NOAUTH when a password is set: either way the server answers.
    s.on("data", (d) => {
      buf += d.toString();
      if (buf.includes("\r\n")) done(buf.startsWith("+PONG") || buf.startsWith("-NOAUTH"));
    });
  });
}

/**
 * Start a private redis-server for a test: bound to 127.0.0.1 only, on a random free
 * port, with a temporary working directory, no RDB snapshots, and (optionally) the
 * append-only file. The caller stops it (`stop()`), which also removes the directory.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const program = options.program ?? "redis-server";
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-redis-"));
  const port = await freePort();
  let child: ChildProcess | null = null;

  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--protected-mode",
    "yes",
    "--dir",
    dir,
    "--save",
    "",
    "--appendonly",
    options.appendOnly ? "yes" : "no",
    ...(options.appendOnly ? ["--appendfsync", "always"] : []),
    ...(options.password ? ["--requirepass", options.password] : []),
    "--logfile",
    path.join(dir, "redis.log"),
  ];

  const startServer = async (): Promise<void> => {
    if (child !== null) return;
    const c = spawn(program, args, { stdio: "ignore" });
    child = c;
    let exited = false;
    // A test process that ends without stopping its server (a hook timed out) takes it along.
    const reap = () => c.kill("SIGKILL");
    process.once("exit", reap);
    c.once("exit", () => {
      exited = true;
      process.removeListener("exit", reap);
      if (child === c) child = null;
    });
    for (let i = 0; i < 200; i++) {
      if (exited) break;
      if (await ping(port)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    const log = fs.existsSync(path.join(dir, "redis.log"))
      ? fs.readFileSync(path.join(dir, "redis.log"), "utf8").slice(-2000)
      : "";
    c.kill("SIGKILL");
    throw new Error(`redis-server did not start on 127.0.0.1:${port}\n${log}`);
  };

  const stopServer = async (): Promise<void> => {
    const c = child;
    if (c === null) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => c.kill("SIGKILL"), 5000);
      c.once("exit", () => {
        clearTimeout(t);
        resolve();
      });
      c.kill("SIGTERM");
    });
    child = null;
  };

  await startServer();
  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : "";
  return {
    port,
    url: `redis://${auth}127.0.0.1:${port}`,
    dir,
    stopServer,
    startServer,
    async stop() {
      await stopServer();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
