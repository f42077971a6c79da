// Validation and verification: reports/summary.md grades every document under docs/.
import fs from "node:fs";

const report = fs.readFileSync("reports/summary.md", "utf8");
const missing = fs
  .readdirSync("docs")
  .filter((n) => n.endsWith(".md"))
  .map((n) => n.slice(0, -3))
  .filter((id) => !report.includes(`| ${id} |`));
if (missing.length > 0) {
  console.error(`not graded: ${missing.join(", ")}`);
  process.exit(1);
}
