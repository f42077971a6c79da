import path from "node:path";
import type { QueueTlsFiles } from "@dwm/dispatcher/bullmq";
import type { CommandContext, ParsedArgs } from "../command.js";

/** Where each TLS file comes from: its option, else its environment variable. */
const TLS_FILES = [
  ["caFile", "tls-ca", "DWM_REDIS_TLS_CA"],
  ["certFile", "tls-cert", "DWM_REDIS_TLS_CERT"],
  ["keyFile", "tls-key", "DWM_REDIS_TLS_KEY"],
] as const;

/**
 * The PEM files of a rediss:// connection (a CA to trust, a client certificate and its key):
 * `--tls-ca`, `--tls-cert`, `--tls-key`, else DWM_REDIS_TLS_CA, DWM_REDIS_TLS_CERT,
 * DWM_REDIS_TLS_KEY; relative paths are the working directory's. They are read (and checked)
 * by parseQueueUrl.
 */
export function queueTlsFiles(args: ParsedArgs, ctx: CommandContext): QueueTlsFiles {
  const out: QueueTlsFiles = {};
  for (const [key, option, variable] of TLS_FILES) {
    const given = args.values[option];
    const file = typeof given === "string" && given !== "" ? given : ctx.env[variable];
    if (file !== undefined && file !== "") out[key] = path.resolve(ctx.cwd, file);
  }
  return out;
}
