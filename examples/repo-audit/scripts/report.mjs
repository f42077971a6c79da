// report-worker: fan the areas' findings in into one Markdown report.
import fs from "node:fs";
import path from "node:path";

const inputs = path.join(process.env.DWM_INPUTS_DIR ?? ".dwm-inputs", "audit");
const areas = fs
  .readdirSync(inputs)
  .filter((f) => /^findings-.+\.json$/.test(f))
  .sort()
  .map((f) => JSON.parse(fs.readFileSync(path.join(inputs, f), "utf8")));
const total = areas.reduce((n, a) => n + a.findings.length, 0);
const out = [
  "# Audit report",
  "",
  "## Summary",
  "",
  `${total} finding(s) in ${areas.length} area(s): ${areas.map((a) => `${a.area} ${a.findings.length}`).join(", ")}.`,
  "",
  "## Findings",
  "",
];
for (const a of areas) {
  out.push(`### ${a.area} (${a.files_scanned} files)`, "");
  for (const f of a.findings) out.push(`- \`${f.file}:${f.line}\` ${f.rule}: ${f.message}`);
  if (a.findings.length === 0) out.push("- none");
  out.push("");
}
fs.mkdirSync("audit", { recursive: true });
fs.writeFileSync("audit/report.md", out.join("\n"));
if (process.env.DWM_SIDE_EFFECT_LOG) fs.appendFileSync(process.env.DWM_SIDE_EFFECT_LOG, "report\n");
console.log(`report: ${total} findings`);
