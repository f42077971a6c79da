// Zod compiles a fast parser for a schema the first time it parses with it (`new Function`):
// a gain over many parses, a loss for a server that parses a few messages per session while its
// client waits for the first answers. Zod keeps its settings on globalThis, shared by every copy
// of it (the SDK bundle's included), so setting them here, before the SDK loads, is enough.
const shared = globalThis as { __zod_globalConfig?: Record<string, unknown> };
shared.__zod_globalConfig = { ...shared.__zod_globalConfig, jitless: true };
