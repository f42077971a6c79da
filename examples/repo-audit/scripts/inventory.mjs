// inventory-worker: list every file under project/ by area (the first folder below project/).
import fs from "node:fs";
import path from "node:path";

const root = "project";
const files = [];
const walk = (dir) => {
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = path.posix.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else files.push(p);
  }
};
walk(root);
const areas = [...new Set(files.map((f) => f.split("/")[1]).filter((a) => a && !a.includes(".")))].sort();
fs.mkdirSync("audit", { recursive: true });
fs.writeFileSync("audit/inventory.json", `${JSON.stringify({ areas, files }, null, 2)}\n`);
console.log(`inventory: ${files.length} files in ${areas.length} areas`);
