// migrate-<module>-worker: rewrite oldApi(x) as newApi({ value: x }) in the module's call sites.
import fs from "node:fs";
import path from "node:path";

const mod = process.argv[2];
const survey = JSON.parse(
  fs.readFileSync(
    path.join(process.env.DWM_INPUTS_DIR ?? ".dwm-inputs", "migration/call-sites.json"),
    "utf8",
  ),
);
const files = [...new Set(survey.sites.filter((s) => s.module === mod).map((s) => s.file))];
let migrated = 0;
for (const f of files) {
  const text = fs.readFileSync(f, "utf8");
  const next = text
    .replace(/import \{ oldApi \}/g, "import { newApi }")
    .replace(/oldApi\(([^()]*)\)/g, (_, arg) => {
      migrated++;
      return `newApi({ value: ${arg} })`;
    });
  fs.writeFileSync(f, next);
}
// Test hook: both modules also edit one shared file, so merging them conflicts.
if (process.env.DWM_EXAMPLE_CONFLICT) fs.writeFileSync("src/shared.js", `export const owner = "${mod}";\n`);
fs.mkdirSync("migration", { recursive: true });
fs.writeFileSync(
  `migration/done-${mod}.json`,
  `${JSON.stringify({ module: mod, migrated, files }, null, 2)}\n`,
);
console.log(`migrate ${mod}: ${migrated} call(s) in ${files.length} file(s)`);
