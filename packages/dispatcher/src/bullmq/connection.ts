import fs from "node:fs";
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
  /**
   * TLS on (rediss://): the server name (SNI) when the host is a name, not an address; the CA
   * that signed the server's certificate (instead of Node's trust store) and a client
   * certificate and key, PEM, when given (queueTlsFiles).
   */
  tls?: { servername?: string; ca?: string; cert?: string; key?: string };
}

/** PEM files for a TLS connection to Redis: a CA to check the server by, a client certificate and its key. */
export interface QueueTlsFiles {
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
}

function readPem(file: string, what: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw dispatcherErrors.create(
      "ERR_QUEUE_TLS_FILE",
      `the ${what} ${file} cannot be read: ${e instanceof Error ? e.message : String(e)}`,
      { details: { file } },
    );
  }
  if (!text.includes("-----BEGIN ")) {
    throw dispatcherErrors.create("ERR_QUEUE_TLS_FILE", `the ${what} ${file} is not a PEM file`, {
      details: { file },
    });
  }
  return text;
}

/**
 * The TLS material for a rediss:// connection, read from PEM files: the CA that signed the
 * server's certificate, and a client certificate with its key (Redis `tls-auth-clients yes`).
 * ERR_QUEUE_TLS_FILE when a file cannot be read or is not PEM, when only one of certificate and
 * key is given, or when the URL is not rediss://.
 */
export function tlsOptions(files: QueueTlsFiles, tls: boolean): { ca?: string; cert?: string; key?: string } {
  const { caFile, certFile, keyFile } = files;
  if (caFile === undefined && certFile === undefined && keyFile === undefined) return {};
  if (!tls) {
    throw dispatcherErrors.create(
      "ERR_QUEUE_TLS_FILE",
      "TLS files (a CA, a client certificate or key) need a rediss:// queue URL",
    );
  }
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw dispatcherErrors.create(
      "ERR_QUEUE_TLS_FILE",
      `a client certificate needs its key and the key its certificate (given: ${certFile !== undefined ? "certificate" : "key"} only)`,
    );
  }
  return {
    ...(caFile !== undefined ? { ca: readPem(caFile, "CA certificate") } : {}),
    ...(certFile !== undefined ? { cert: readPem(certFile, "client certificate") } : {}),
    ...(keyFile !== undefined ? { key: readPem(keyFile, "client key") } : {}),
  };
}

/**
 * Parse `redis://[user[:password]@]host[:port][/db]` or `rediss://…` (TLS, with the PEM files
 * of `tlsFiles` when given). The password goes to Redis AUTH (with the user for ACL users); it
 * never appears in `redacted`.
 */
export function parseQueueUrl(raw: string, tlsFiles: QueueTlsFiles = {}): QueueUrl {
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
    ...(tls
      ? { tls: { ...(net.isIP(host) === 0 ? { servername: host } : {}), ...tlsOptions(tlsFiles, tls) } }
      : {}),
  };
  if (!tls) tlsOptions(tlsFiles, tls);
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
    const hint = tlsHint(url, why);
    throw dispatcherErrors.create(
      "ERR_QUEUE_UNREACHABLE",
      `Redis at ${url.redacted} cannot be used: ${why}`,
      {
        details: { queue: url.redacted },
        ...(hint ? { hint } : {}),
      },
    );
  } finally {
    client.disconnect();
  }
}

/** What to do about a TLS failure: a server certificate nobody trusts, or a server that wants a client certificate. */
function tlsHint(url: QueueUrl, why: string): string | null {
  if (!url.tls) return null;
  if (
    /certificate required|handshake failure|alert number 116|ECONNRESET|socket hang up/i.test(why) &&
    !url.options.tls?.cert
  ) {
    return "The server may require a client certificate (tls-auth-clients): give one with --tls-cert and --tls-key (or DWM_REDIS_TLS_CERT and DWM_REDIS_TLS_KEY), signed by a CA the server trusts.";
  }
  if (/certificate|self[- ]signed|CERT_|verify/i.test(why)) {
    return "The server's TLS certificate is not trusted: name the CA that signed it with --tls-ca (or DWM_REDIS_TLS_CA), or give it to Node (NODE_EXTRA_CA_CERTS=/path/to/ca.pem), in the environment of dwm run and dwm worker.";
  }
  return null;
}
