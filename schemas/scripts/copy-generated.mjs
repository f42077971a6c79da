// tsc does not copy the generated plain-JS validators; put them beside the compiled index.
import fs from "node:fs";

fs.rmSync("dist/generated/validators", { recursive: true, force: true });
fs.rmSync("dist/generated/validators.js", { force: true });
fs.rmSync("dist/generated/validators.d.ts", { force: true });
fs.cpSync("src/generated/validators", "dist/generated/validators", { recursive: true });
