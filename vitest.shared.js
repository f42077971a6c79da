// Shared vitest settings: resolve workspace packages to their TypeScript source
// through the private `@dwm/source` export condition, so tests need no build, and
// write a JSON report that .ci/run sums across packages.
/** @returns {import("vitest/config").ViteUserConfig} */
export function dwmVitestConfig(overrides = {}) {
  return {
    resolve: { conditions: ["@dwm/source"] },
    ssr: { resolve: { conditions: ["@dwm/source"] } },
    test: {
      include: ["src/**/*.test.ts", "test/**/*.test.ts"],
      reporters: ["default", "json"],
      outputFile: { json: ".vitest-report.json" },
      passWithNoTests: true,
      // Every run loop under test checks its tracked frontier against computeFrontier after each event.
      env: { DWM_CHECK_FRONTIER: "1" },
      testTimeout: 120_000, // a hang guard, not a speed check: CI machines are shared
      hookTimeout: 120_000,
      ...overrides,
    },
  };
}
