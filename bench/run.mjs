// pnpm bench [--quick] [scenario...]: runs each scenario, prints a table, writes bench/results/<scenario>.json.
import fs from "node:fs";
import path from "node:path";
import { benchDir, dwmBin, machine, table } from "./lib.mjs";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const only = args.filter((a) => !a.startsWith("--"));
if (!fs.existsSync(dwmBin)) {
  console.error("dwm is not built: run `pnpm build` first");
  process.exit(1);
}
const scenarios = fs
  .readdirSync(path.join(benchDir, "scenarios"))
  .filter((f) => f.endsWith(".mjs"))
  .map((f) => f.replace(/\.mjs$/, ""))
  .filter((n) => only.length === 0 || only.includes(n))
  .sort();
console.log(`machine: ${JSON.stringify(machine())}${quick ? " (quick)" : ""}`);
for (const name of scenarios) {
  const mod = await import(`./scenarios/${name}.mjs`);
  const t0 = performance.now();
  const rows = await mod.run({ quick });
  console.log(`\n## ${name} (${((performance.now() - t0) / 1000).toFixed(1)} s)\n${table(rows)}`);
}
