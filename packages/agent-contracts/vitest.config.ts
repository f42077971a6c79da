import { defineConfig } from "vitest/config";
import { dwmVitestConfig } from "../../vitest.shared.js";

// The real CLIs start in ~0.3-1.5 s each; files run one at a time so two suites never compete for
// the 2 cores (and time-outs stay meaningful).
export default defineConfig(dwmVitestConfig({ fileParallelism: false, testTimeout: 240_000 }));
