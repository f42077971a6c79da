// Runs inside a bubblewrap sandbox whose network namespace is empty (see bubblewrap-sandbox.ts):
//   node sandbox-relay.js '<[{host, port, socket}]>' -- <argv...>
// listens on each endpoint's loopback address and port inside the sandbox, pipes every
// connection to the Unix socket the host side bound in, then runs argv and ends as it ends.
// Nothing else of the host's network is reachable: only what the host side's sockets lead to.
import { spawn } from "node:child_process";
import net from "node:net";

interface Endpoint {
  host: string;
  port: number;
  socket: string;
}

function fail(message: string): never {
  process.stderr.write(`dwm sandbox relay: ${message}\n`);
  process.exit(125);
}

function listen(e: Endpoint, host: string): Promise<net.Server> {
  const server = net.createServer((conn) => {
    const up = net.connect(e.socket);
    const drop = () => {
      conn.destroy();
      up.destroy();
    };
    conn.on("error", drop);
    up.on("error", drop);
    conn.pipe(up);
    up.pipe(conn);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port: e.port }, () => resolve(server));
  });
}

async function main(): Promise<void> {
  const [spec, sep, ...argv] = process.argv.slice(2);
  if (spec === undefined || sep !== "--" || argv.length === 0)
    fail("usage: sandbox-relay.js <endpoints> -- argv...");
  const endpoints = JSON.parse(spec) as Endpoint[];
  const servers: net.Server[] = [];
  for (const e of endpoints) {
    const local = e.host.toLowerCase() === "localhost";
    servers.push(await listen(e, local ? "127.0.0.1" : e.host));
    // `localhost` may resolve to ::1 first; a missing IPv6 loopback is no reason to fail.
    if (local)
      await listen(e, "::1").then(
        (s) => servers.push(s),
        () => undefined,
      );
  }
  for (const s of servers) s.unref();

  const [file = "", ...args] = argv;
  const child = spawn(file, args, { stdio: "inherit" });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  for (const s of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(s, forward(s));
  child.once("error", (e: NodeJS.ErrnoException) => {
    process.stderr.write(`dwm sandbox relay: ${file}: ${e.code ?? e.message}\n`);
    process.exit(127);
  });
  child.once("exit", (code, signal) => {
    if (signal !== null) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code ?? 1);
  });
}

main().catch((e: unknown) => fail(e instanceof Error ? e.message : String(e)));
