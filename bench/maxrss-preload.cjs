// Preloaded (node --require) by lib.mjs timeProcess for one extra run: writes the process's own
// peak RSS (KiB, getrusage maxrss) to $DWM_BENCH_MAXRSS_FILE when it exits.
const fs = require("node:fs");

const file = process.env.DWM_BENCH_MAXRSS_FILE;
if (file) {
  process.on("exit", () => {
    fs.writeFileSync(file, String(process.resourceUsage().maxRSS));
  });
}
