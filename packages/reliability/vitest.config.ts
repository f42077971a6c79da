import { defineConfig } from "vitest/config";
import { dwmVitestConfig } from "../../vitest.shared.js";

// Suites start real `dwm` processes and git; files run one at a time so they do not compete for the
// cores with each other. Full sizes (DWM_RELIABILITY_FULL=1) run for many minutes per suite.
const full = process.env.DWM_RELIABILITY_FULL === "1";
export default defineConfig(
  dwmVitestConfig({
    fileParallelism: false,
    testTimeout: full ? 4 * 60 * 60_000 : 600_000,
    hookTimeout: full ? 30 * 60_000 : 120_000,
  }),
);
