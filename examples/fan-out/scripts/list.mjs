// list phase (a command phase): every document under docs/ becomes one item of
// items/documents.json, the JSON list the fan-out iterates.
//   node scripts/list.mjs [--revise id,id,...]
// --revise marks the named documents as revised (revision 2): their items change,
// so a re-run expands new item packets for exactly them.
import fs from "node:fs";

const i = process.argv.indexOf("--revise");
const revised = new Set(i === -1 ? [] : (process.argv[i + 1] ?? "").split(",").filter(Boolean));
const names = fs
  .readdirSync("docs")
  .filter((n) => n.endsWith(".md"))
  .sort();
const items = names.map((n) => {
  const id = n.slice(0, -3);
  return { id, path: `docs/${n}`, ...(revised.has(id) ? { revision: 2 } : {}) };
});
fs.mkdirSync("items", { recursive: true });
fs.writeFileSync("items/documents.json", `${JSON.stringify(items, null, 2)}\n`);
console.log(`listed ${items.length} documents`);
