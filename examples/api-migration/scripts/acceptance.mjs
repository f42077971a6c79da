// gate-worker: what the human reads before approving.
import fs from "node:fs";
import path from "node:path";

const report = fs.readFileSync(
  path.join(process.env.DWM_INPUTS_DIR ?? ".dwm-inputs", "migration/report.md"),
  "utf8",
);
fs.mkdirSync("migration", { recursive: true });
fs.writeFileSync("migration/acceptance.md", `# Acceptance request\n\n${report.replace(/^# .*\n/, "")}`);
