import { defineConfig } from "vitest/config";
import { dwmVitestConfig } from "../vitest.shared.js";

// The smoke test runs the whole quick bench (minutes on a busy machine): no per-test time limit
// worth the name, and no thresholds on any figure.
export default defineConfig(dwmVitestConfig({ include: ["test/**/*.test.mjs"], testTimeout: 30 * 60_000 }));
