// survey-worker: every oldApi( call site, by module (src/<module>/...).
import fs from "node:fs";
import path from "node:path";

const sites = [];
const walk = (dir) => {
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = path.posix.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else
      fs.readFileSync(p, "utf8")
        .split("\n")
        .forEach((l, i) => {
          if (l.includes("oldApi(")) sites.push({ file: p, line: i + 1, module: p.split("/")[1] });
        });
  }
};
// Modules are the folders under src/ (src/api.js itself defines oldApi).
for (const m of fs.readdirSync("src", { withFileTypes: true })) if (m.isDirectory()) walk(`src/${m.name}`);
const modules = [...new Set(sites.map((s) => s.module))].sort();
fs.mkdirSync("migration", { recursive: true });
fs.writeFileSync("migration/call-sites.json", `${JSON.stringify({ modules, sites }, null, 2)}\n`);
console.log(`survey: ${sites.length} call sites in ${modules.join(", ")}`);
