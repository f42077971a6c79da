// Validation command: the named file parses as JSON.
import fs from "node:fs";

JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
