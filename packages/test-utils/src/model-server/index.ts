export { addFilePatch, updateFilePatch } from "./responses.js";
export type { ModelScript, ScriptTurn, ScriptUsage } from "./script.js";
export { DEFAULT_USAGE } from "./script.js";
export type { ModelDialect, ModelServer, ModelServerOptions, RecordedRequest } from "./server.js";
export { startModelServer } from "./server.js";
