// gate-worker: what the human reads before approving the agents' change.
import fs from "node:fs";
import path from "node:path";

const summary = fs.readFileSync(
  path.join(process.env.DWM_INPUTS_DIR ?? ".dwm-inputs", "notes/change-summary.md"),
  "utf8",
);
fs.mkdirSync("notes", { recursive: true });
fs.writeFileSync("notes/acceptance.md", `# Acceptance request\n\n${summary.replace(/^# .*\n/, "")}`);
