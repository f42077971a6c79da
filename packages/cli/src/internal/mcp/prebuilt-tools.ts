/**
 * The tools/list answer as JSON text, put in by the build into the bundled `dwm` (scripts/bundle.mjs
 * computes it with `toolList()`); null here, in the per-package dist, where it is computed on the
 * first tools/list. Building it folds every tool's output schema with the schema files it refers
 * to: ~50 ms of a server start an MCP client waits for.
 */
export const PREBUILT_TOOL_LIST: string | null = null;
