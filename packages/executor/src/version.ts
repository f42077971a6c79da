import fs from "node:fs";

let cached: string | undefined;

/** This package's version, read from its package.json (src/ and dist/ sit one level below it). */
export function executorVersion(): string {
  if (cached === undefined) {
    const pkg = JSON.parse(fs.readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    cached = pkg.version;
  }
  return cached;
}
