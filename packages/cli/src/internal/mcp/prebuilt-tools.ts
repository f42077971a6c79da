/** What the build computes for `dwm mcp`'s first answers, so that they need neither the SDK nor the schema files. */
export interface PrebuiltHandshake {
  /** The tools/list answer's `tools`, as JSON text (`toolList()`). */
  toolList: string;
  /** The SDK's SUPPORTED_PROTOCOL_VERSIONS and LATEST_PROTOCOL_VERSION, for initialize. */
  protocolVersions: string[];
  latestProtocolVersion: string;
}

/**
 * Put in by the build into the bundled `dwm` (scripts/bundle.mjs); null here, in the
 * per-package dist, where the SDK answers every message. Building the tool list folds every
 * tool's output schema with the schema files it refers to, and the SDK with zod takes longer
 * to load than Node takes to start: an MCP client waits for both before its session begins.
 */
export const PREBUILT: PrebuiltHandshake | null = null;
