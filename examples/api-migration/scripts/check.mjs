// The check DWM runs on verify's output: exit 1 while any oldApi( call is left under src/.
import fs from "node:fs";
import path from "node:path";

const left = [];
const walk = (dir) => {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (fs.readFileSync(p, "utf8").includes("oldApi(")) left.push(p);
  }
};
// Modules are the folders under src/ (src/api.js itself defines oldApi).
for (const m of fs.readdirSync("src", { withFileTypes: true })) if (m.isDirectory()) walk(`src/${m.name}`);
if (!fs.existsSync("migration/report.md")) {
  console.error("migration/report.md is missing");
  process.exit(1);
}
if (left.length > 0) {
  console.error(`oldApi( is still called in ${left.join(", ")}`);
  process.exit(1);
}
console.log("no oldApi( call left");
