import { defineConfig } from "vitest/config";
import { dwmVitestConfig } from "../../vitest.shared.js";

export default defineConfig(dwmVitestConfig());
