// tsc does not copy the generated plain-JS validators; put them beside the compiled index.
import fs from "node:fs";

for (const f of ["validators.js", "validators.d.ts"]) {
  fs.mkdirSync("dist/generated", { recursive: true });
  fs.copyFileSync(`src/generated/${f}`, `dist/generated/${f}`);
}
