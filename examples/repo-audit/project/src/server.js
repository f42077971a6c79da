import { connect } from "../lib/db.js";

export function start(port) {
  // TODO: read the port from the environment
  const db = connect();
  console.log("listening on", port);
  return { port, db };
}
