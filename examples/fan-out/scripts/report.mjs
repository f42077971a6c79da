// report phase (the reduce, a command phase): $DWM_INPUTS_DIR/grade.json is one list
// with every item's grade.json ({ key, packet_id, item, handoff }); write reports/summary.md.
import fs from "node:fs";
import path from "node:path";

const list = JSON.parse(fs.readFileSync(path.join(process.env.DWM_INPUTS_DIR, "grade.json"), "utf8"));
const rows = list.map((e) => e.handoff).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
const count = (g) => rows.filter((r) => r.grade === g).length;
const lines = [
  "# Document grades",
  "",
  "## Documents",
  "",
  `${rows.length} documents graded.`,
  "",
  "## Grades",
  "",
  `A ${count("A")}, B ${count("B")}, C ${count("C")}`,
  "",
  "| document | revision | words | grade |",
  "|---|---|---|---|",
  ...rows.map((r) => `| ${r.id} | ${r.revision} | ${r.words} | ${r.grade} |`),
  "",
];
fs.mkdirSync("reports", { recursive: true });
fs.writeFileSync("reports/summary.md", lines.join("\n"));
