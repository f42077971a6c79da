import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";

export interface RedisServerOptions {
  /** Append-only file on (`--appendonly yes --appendfsync always`), so a restart keeps every job. Default false: no persistence at all. */
  appendOnly?: boolean;
  /** `requirepass`: clients must AUTH with this password. */
  password?: string;
  /** The redis-server program. Default: `redis-server` on PATH. */
  program?: string;
  /**
   * Serve TLS only (`--port 0 --tls-port <port>`, clients need no certificate of their own) with
   * these PEM files (makeTlsFiles makes a throwaway CA and a certificate for 127.0.0.1); the URL is
   * then `rediss://`.
   */
  tls?: TlsFiles;
  /** With `tls`: clients must present a certificate the CA signed (`--tls-auth-clients yes`; makeTlsFiles makes one). */
  tlsAuthClients?: boolean;
  /** More addresses to listen on besides 127.0.0.1 (a veth address a test made), same port. */
  bind?: readonly string[];
}

/** PEM files of a throwaway certificate authority, and a server and a client certificate it signed. */
export interface TlsFiles {
  /** The CA certificate clients must trust (NODE_EXTRA_CA_CERTS). */
  caFile: string;
  certFile: string;
  keyFile: string;
  /** A client certificate (CN dwm-client) and its key, for a server with tls-auth-clients. */
  clientCertFile: string;
  clientKeyFile: string;
}

/**
 * Make a throwaway CA, a server certificate for 127.0.0.1, localhost and `serverAddresses`, and a
 * client certificate, both signed by it, in `dir` (openssl on PATH). For TLS tests on loopback
 * or a test's own veth addresses only; the keys are not protected.
 */
export function makeTlsFiles(dir: string, serverAddresses: readonly string[] = []): TlsFiles {
  const run = (...args: string[]) => {
    const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr || r.error?.message}`);
  };
  fs.mkdirSync(dir, { recursive: true });
  const ips = ["127.0.0.1", ...serverAddresses].map((a) => `IP:${a}`).join(",");
  fs.writeFileSync(path.join(dir, "san.cnf"), `subjectAltName=${ips},DNS:localhost\n`);
  fs.writeFileSync(path.join(dir, "client.cnf"), "extendedKeyUsage=clientAuth\n");
  run(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=dwm test CA",
  );
  run(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=127.0.0.1",
  );
  run(
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.pem",
    "-days",
    "2",
    "-extfile",
    "san.cnf",
  );
  run(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "client.key",
    "-out",
    "client.csr",
    "-subj",
    "/CN=dwm-client",
  );
  run(
    "x509",
    "-req",
    "-in",
    "client.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "client.pem",
    "-days",
    "2",
    "-extfile",
    "client.cnf",
  );
  return {
    caFile: path.join(dir, "ca.pem"),
    certFile: path.join(dir, "server.pem"),
    keyFile: path.join(dir, "server.key"),
    clientCertFile: path.join(dir, "client.pem"),
    clientKeyFile: path.join(dir, "client.key"),
  };
}

/** Whether openssl can be run (the TLS tests need it to make certificates). */
export function opensslAvailable(): boolean {
  return spawnSync("openssl", ["version"], { stdio: "ignore" }).status === 0;
}

/** A private redis-server on 127.0.0.1, a random free port and its own temporary directory. */
export interface RedisServer {
  readonly port: number;
  /** `redis://[:password@]127.0.0.1:<port>` (`rediss://` with TLS) */
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

function ping(port: number, overTls: TlsFiles | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    // Only "is it up": the server's certificate is the test's business, not the readiness probe's
    // (which shows the client certificate, in case the server asks for one).
    const s = overTls
      ? tls.connect({
          host: "127.0.0.1",
          port,
          rejectUnauthorized: false,
          cert: fs.readFileSync(overTls.clientCertFile),
          key: fs.readFileSync(overTls.clientKeyFile),
        })
      : net.connect({ host: "127.0.0.1", port });
    let buf = "";
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.on("error", () => done(false));
    s.on(overTls ? "secureConnect" : "connect", () => s.write("PING\r\n"));
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
  let port = await freePort();
  let child: ChildProcess | null = null;

  const t = options.tls;
  const logFile = path.join(dir, "redis.log");
  const argsFor = (port: number) => [
    ...(t
      ? [
          "--port",
          "0",
          "--tls-port",
          String(port),
          "--tls-cert-file",
          t.certFile,
          "--tls-key-file",
          t.keyFile,
          "--tls-ca-cert-file",
          t.caFile,
          "--tls-auth-clients",
          options.tlsAuthClients ? "yes" : "no",
        ]
      : ["--port", String(port)]),
    "--bind",
    "127.0.0.1",
    ...(options.bind ?? []),
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
    logFile,
  ];
  const logSize = () => (fs.existsSync(logFile) ? fs.statSync(logFile).size : 0);
  // Ready means our server said so in its own log: a PING alone may be answered by another
  // test's server that took the port first (ours then fails to bind and exits).
  const readySince = (offset: number) => {
    if (!fs.existsSync(logFile)) return false;
    return fs.readFileSync(logFile).subarray(offset).toString().includes("Ready to accept connections");
  };

  const startServer = async (): Promise<void> => {
    if (child !== null) return;
    const offset = logSize();
    const c = spawn(program, argsFor(port), { stdio: "ignore" });
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
      if ((await ping(port, t)) && readySince(offset)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8").slice(-2000) : "";
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

  // The port may be taken between choosing it and binding it: the first start tries a few.
  for (let tries = 1; ; tries++) {
    try {
      await startServer();
      break;
    } catch (e) {
      if (tries >= 5) throw e;
      port = await freePort();
    }
  }
  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : "";
  return {
    port,
    url: `${t ? "rediss" : "redis"}://${auth}127.0.0.1:${port}`,
    dir,
    stopServer,
    startServer,
    async stop() {
      await stopServer();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
