// scan-<area>-worker: scan the area's files (from the inventory handoff) for findings.
import fs from "node:fs";
import path from "node:path";

const area = process.argv[2];
const inputs = process.env.DWM_INPUTS_DIR ?? ".dwm-inputs";
const inventory = JSON.parse(fs.readFileSync(path.join(inputs, "audit/inventory.json"), "utf8"));
const mine = inventory.files.filter((f) => f.startsWith(`project/${area}/`));
const rules = [
  { id: "todo", re: /\b(TODO|FIXME|XXX)\b/, message: "unfinished work marker" },
  { id: "debug-output", re: /console\.log\(/, message: "debug output left in code" },
  {
    id: "secret-like",
    re: /(password|api_key)\s*=\s*["'][^"']+["']/i,
    message: "hard-coded credential-like value",
  },
];
const findings = [];
for (const file of mine) {
  const lines = fs.readFileSync(file, "utf8").split("\n");
  lines.forEach((line, i) => {
    for (const r of rules)
      if (r.re.test(line)) findings.push({ file, line: i + 1, rule: r.id, message: r.message });
  });
}
if (mine.length === 0)
  findings.push({ file: `project/${area}/`, line: 0, rule: "empty-area", message: "no files" });
fs.mkdirSync("audit", { recursive: true });
fs.writeFileSync(
  `audit/findings-${area}.json`,
  `${JSON.stringify({ area, files_scanned: mine.length, findings }, null, 2)}\n`,
);
// DWM_SIDE_EFFECT_LOG (tests only): count how often each packet really ran.
if (process.env.DWM_SIDE_EFFECT_LOG) fs.appendFileSync(process.env.DWM_SIDE_EFFECT_LOG, `scan_${area}\n`);
if (process.env.DWM_EXAMPLE_SLOW_MS)
  await new Promise((r) => setTimeout(r, Number(process.env.DWM_EXAMPLE_SLOW_MS)));
console.log(`scan ${area}: ${mine.length} files, ${findings.length} findings`);
