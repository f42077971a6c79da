import net from "node:net";
import { Redis } from "ioredis";
import { dispatcherErrors } from "../errors.js";

/** A parsed --queue URL: ioredis options, and the URL with its password masked (for logs and reports). */
export interface QueueUrl {
  redacted: string;
  tls: boolean;
  options: RedisTarget;
}

/** Where and how to connect: host, port, database, ACL user and password, TLS server name. */
export interface RedisTarget {
  host: string;
  port: number;
  db?: number;
  username?: string;
  password?: string;
  /** TLS on (rediss://); the server name (SNI) when the host is a name, not an address. */
  tls?: { servername?: string };
}

/**
 * Parse `redis://[user[:password]@]host[:port][/db]` or `rediss://…` (TLS). The password
 * goes to Redis AUTH (with the user for ACL users); it never appears in `redacted`.
 */
export function parseQueueUrl(raw: string): QueueUrl {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw dispatcherErrors.create("ERR_QUEUE_URL_INVALID", `${JSON.stringify(raw)} is not a URL`);
  }
  const tls = u.protocol === "rediss:";
  if (u.protocol !== "redis:" && !tls) {
    throw dispatcherErrors.create(
      "ERR_QUEUE_URL_INVALID",
      `the queue URL must start with redis:// or rediss://, not ${u.protocol}//`,
      { details: { scheme: u.protocol } },
    );
  }
  if (u.hostname === "")
    throw dispatcherErrors.create("ERR_QUEUE_URL_INVALID", "the queue URL names no host");
  const port = u.port === "" ? 6379 : Number(u.port);
  const dbText = u.pathname.replace(/^\//, "");
  if (dbText !== "" && !/^[0-9]{1,2}$/.test(dbText)) {
    throw dispatcherErrors.create(
      "ERR_QUEUE_URL_INVALID",
      `the database in the queue URL must be a number, not ${JSON.stringify(dbText)}`,
    );
  }
  if (u.search !== "" || u.hash !== "") {
    throw dispatcherErrors.create("ERR_QUEUE_URL_INVALID", "the queue URL takes no query or fragment");
  }
  const host = u.hostname.replace(/^\[(.*)\]$/, "$1");
  const username = decodeURIComponent(u.username);
  const password = decodeURIComponent(u.password);
  const options: RedisTarget = {
    host,
    port,
    ...(dbText === "" ? {} : { db: Number(dbText) }),
    ...(username !== "" ? { username } : {}),
    ...(password !== "" ? { password } : {}),
    // SNI carries host names only (RFC 6066): an IP address is checked against the certificate's IP SANs.
    ...(tls ? { tls: net.isIP(host) === 0 ? { servername: host } : {} } : {}),
  };
  const masked = new URL(raw);
  if (masked.password !== "") masked.password = "***";
  return { redacted: masked.toString().replace(/\/$/, ""), tls, options };
}

/**
 * A Redis client for BullMQ. `maxRetriesPerRequest: null` makes commands wait through a Redis
 * restart instead of failing (BullMQ requires it for workers); reconnects back off up to 2 s.
 */
export function connectRedis(url: QueueUrl): Redis {
  const client = new Redis({
    ...url.options,
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times: number) => Math.min(50 * times, 2000),
  });
  // Connection errors (Redis restarting) are retried; commands wait for the reconnect.
  client.on("error", () => {});
  return client;
}

/** Connect once, AUTH and PING, with no retries: ERR_QUEUE_UNREACHABLE with the reason when Redis cannot be used. */
export async function checkRedis(url: QueueUrl, timeoutMs = 5000): Promise<void> {
  const client = new Redis({
    ...url.options,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  // The socket's own error (a refused connection, a certificate nobody trusts) says more than
  // the "Connection is closed." connect() rejects with after it.
  let cause: string | null = null;
  client.on("error", (e: Error) => {
    cause ??= e.message;
  });
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    const said = e instanceof Error ? e.message : String(e);
    const why = cause !== null && cause !== said ? `${cause} (${said})` : said;
    const certificate = url.tls && /certificate|self[- ]signed|CERT_|verify/i.test(why);
    throw dispatcherErrors.create(
      "ERR_QUEUE_UNREACHABLE",
      `Redis at ${url.redacted} cannot be used: ${why}`,
      {
        details: { queue: url.redacted },
        ...(certificate
          ? {
              hint: "The server's TLS certificate is not trusted: give Node the CA that signed it (NODE_EXTRA_CA_CERTS=/path/to/ca.pem) in the environment of dwm run and dwm worker.",
            }
          : {}),
      },
    );
  } finally {
    client.disconnect();
  }
}
