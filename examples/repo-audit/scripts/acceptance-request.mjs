// gate-worker: prepare what the human reads before approving the human gate.
import fs from "node:fs";
import path from "node:path";

const report = fs.readFileSync(
  path.join(process.env.DWM_INPUTS_DIR ?? ".dwm-inputs", "audit/report.md"),
  "utf8",
);
const summary = report.split("## Findings")[0].replace("# Audit report", "").trim();
fs.mkdirSync("audit", { recursive: true });
fs.writeFileSync(
  "audit/acceptance-request.md",
  `# Acceptance request\n\nThe audit is ready for a decision.\n\n${summary}\n\nFull report: audit/report.md on the run's integration branch.\nApprove with: dwm approve ${process.env.DWM_RUN_ID} human-gate\n`,
);
console.log("acceptance request written");
