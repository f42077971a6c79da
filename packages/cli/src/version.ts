import fs from "node:fs";

/** This package's version, read from its package.json (src/ and dist/ sit one level below it). */
export function dwmVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}
