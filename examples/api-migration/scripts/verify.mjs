// verify-worker: on the integration branch (both modules merged), count what is left and write the report.
import fs from "node:fs";
import path from "node:path";

const left = [];
const walk = (dir) => {
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = path.posix.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (fs.readFileSync(p, "utf8").includes("oldApi(")) left.push(p);
  }
};
// Modules are the folders under src/ (src/api.js itself defines oldApi).
for (const m of fs.readdirSync("src", { withFileTypes: true })) if (m.isDirectory()) walk(`src/${m.name}`);
const inputs = path.join(process.env.DWM_INPUTS_DIR ?? ".dwm-inputs", "migration");
const done = fs
  .readdirSync(inputs)
  .filter((f) => f.startsWith("done-"))
  .sort()
  .map((f) => JSON.parse(fs.readFileSync(path.join(inputs, f), "utf8")));
fs.mkdirSync("migration", { recursive: true });
fs.writeFileSync(
  "migration/report.md",
  [
    "# Migration report",
    "",
    "## Result",
    "",
    ...done.map((d) => `- ${d.module}: ${d.migrated} call(s) migrated`),
    "",
    "## Call sites left",
    "",
    left.length ? left.map((f) => `- ${f}`).join("\n") : "none",
    "",
  ].join("\n"),
);
console.log(`verify: ${left.length} file(s) still call oldApi`);
