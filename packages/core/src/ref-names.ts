// The one spelling of run and packet ids inside git ref names, shared by the executor (attempt
// refs, the integration branch), the distributed queue (evidence and work refs) and the
// runtime (which finds the stale git locks of a run's refs): they must agree byte for byte.

/** A ref-safe rendering of a slug segment (slugs may contain `..` or end in `.lock`, refs may not). */
export function refSegment(s: string): string {
  let out = s.replace(/\.{2,}/g, ".");
  if (out.endsWith(".lock")) out = `${out.slice(0, -5)}-lock`;
  if (out.endsWith(".")) out = `${out.slice(0, -1)}-`;
  return out;
}

/** A packet id as a ref path: each `/`-separated segment (fan-out items) made ref-safe. */
export function packetRefPath(packetId: string): string {
  return packetId.split("/").map(refSegment).join("/");
}
