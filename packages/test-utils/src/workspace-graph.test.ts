// The package graph must match DESIGN.md's table: no cycles, and only the
// dispatcher and the CLI depend on several stages.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../../", import.meta.url));

// Allowed runtime dependencies on other @dwm packages (DESIGN.md "Packages"); every package may use schemas.
const ALLOWED: Record<string, string[]> = {
  "@dwm/schemas": [],
  "@dwm/core": ["@dwm/schemas"],
  "@dwm/plan-evaluator": ["@dwm/core"],
  "@dwm/compiler": ["@dwm/core", "@dwm/plan-evaluator"],
  "@dwm/runtime": ["@dwm/core"],
  "@dwm/scheduler": ["@dwm/core", "@dwm/runtime"],
  "@dwm/executor": ["@dwm/core"],
  "@dwm/reviewer": ["@dwm/core"],
  "@dwm/ingester": ["@dwm/core", "@dwm/runtime"],
  "@dwm/gate-resolver": ["@dwm/core", "@dwm/runtime"],
  "@dwm/dispatcher": ["*"],
  "@dwm/cli": ["*"],
  "@dwm/test-utils": ["@dwm/core"],
  // Private contract tests of the agent backends against the real CLIs (devDependencies only).
  "@dwm/agent-contracts": [],
  // Private reliability suite (pnpm test:reliability; devDependencies only).
  "@dwm/reliability": [],
};
const STAGES = [
  "@dwm/plan-evaluator",
  "@dwm/compiler",
  "@dwm/runtime",
  "@dwm/scheduler",
  "@dwm/executor",
  "@dwm/reviewer",
  "@dwm/ingester",
  "@dwm/gate-resolver",
  "@dwm/dispatcher",
];

interface Pkg {
  name: string;
  private?: boolean;
  dependencies?: Record<string, string>;
  exports?: unknown;
  files?: string[];
  engines?: { node?: string };
  publishConfig?: { access?: string };
}

function packages(): Pkg[] {
  const dirs = [
    ...fs.readdirSync(path.join(root, "packages")).map((d) => path.join(root, "packages", d)),
    path.join(root, "schemas"),
  ];
  return dirs
    .filter((d) => fs.existsSync(path.join(d, "package.json")))
    .map((d) => JSON.parse(fs.readFileSync(path.join(d, "package.json"), "utf8")) as Pkg);
}

function internalDeps(p: Pkg): string[] {
  return Object.keys(p.dependencies ?? {}).filter((d) => d.startsWith("@dwm/"));
}

describe("workspace package graph", () => {
  const pkgs = packages();

  it("knows every package", () => {
    expect(pkgs.map((p) => p.name).sort()).toEqual(Object.keys(ALLOWED).sort());
  });

  it.each(pkgs.map((p) => [p.name, p] as const))("%s depends only on what DESIGN.md allows", (name, p) => {
    const allowed = ALLOWED[name] ?? [];
    if (allowed.includes("*")) return;
    const extra = internalDeps(p).filter((d) => d !== "@dwm/schemas" && !allowed.includes(d));
    expect(extra).toEqual([]);
    const stages = internalDeps(p).filter((d) => STAGES.includes(d));
    expect(stages.length).toBeLessThanOrEqual(1);
  });

  it("has no cycles", () => {
    const byName = new Map(pkgs.map((p) => [p.name, p]));
    const state = new Map<string, "visiting" | "done">();
    const visit = (n: string, trail: string[]): void => {
      if (state.get(n) === "done") return;
      if (state.get(n) === "visiting") throw new Error(`cycle: ${[...trail, n].join(" -> ")}`);
      state.set(n, "visiting");
      for (const d of internalDeps(byName.get(n) ?? { name: n })) visit(d, [...trail, n]);
      state.set(n, "done");
    };
    for (const p of pkgs) visit(p.name, []);
  });

  it.each(pkgs.filter((p) => !p.private).map((p) => [p.name, p] as const))("%s is publishable", (_n, p) => {
    expect(p.publishConfig?.access).toBe("public");
    expect(p.files).toContain("dist");
    expect(p.engines?.node).toBe(">=20.19");
    expect(JSON.stringify(p.exports)).toContain("./dist/index.d.ts");
  });
});
