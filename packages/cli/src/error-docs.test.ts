// docs/errors.md must list exactly the codes of every package's error catalogue.
// Regenerate it with: DWM_UPDATE_DOCS=1 pnpm --filter @dwm/cli exec vitest run src/error-docs.test.ts
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import type { ErrorDescriptor } from "@dwm/core";
import * as core from "@dwm/core";
import { describe, expect, it } from "vitest";

const PACKAGES: Record<string, () => Promise<Record<string, unknown>>> = {
  "@dwm/core": async () => core as unknown as Record<string, unknown>,
  "@dwm/plan-evaluator": () => import("@dwm/plan-evaluator"),
  "@dwm/compiler": () => import("@dwm/compiler"),
  "@dwm/runtime": () => import("@dwm/runtime"),
  "@dwm/scheduler": () => import("@dwm/scheduler"),
  "@dwm/executor": () => import("@dwm/executor"),
  "@dwm/reviewer": () => import("@dwm/reviewer"),
  "@dwm/ingester": () => import("@dwm/ingester"),
  "@dwm/gate-resolver": () => import("@dwm/gate-resolver"),
  "@dwm/dispatcher": () => import("@dwm/dispatcher"),
  "@dwm/cli": () => import("./errors.js"),
};

const docFile = fileURLToPath(new URL("../../../docs/errors.md", import.meta.url));

async function collect(): Promise<[string, ErrorDescriptor[]][]> {
  const out: [string, ErrorDescriptor[]][] = [];
  for (const [pkg, load] of Object.entries(PACKAGES)) {
    const mod = await load();
    const list: ErrorDescriptor[] = [];
    for (const [name, value] of Object.entries(mod)) {
      if (name.endsWith("Errors") && value && typeof (value as { list?: unknown }).list === "function") {
        list.push(...(value as { list: () => ErrorDescriptor[] }).list());
      }
    }
    out.push([pkg, list.sort((a, b) => a.code.localeCompare(b.code))]);
  }
  return out;
}

function render(groups: [string, ErrorDescriptor[]][]): string {
  const lines = [
    "# Error codes",
    "",
    "Every error DWM reports carries a permanent code, a message and a hint.",
    "This page is generated from the packages' error catalogues (`src/errors.ts`);",
    "a test fails when it is out of date.",
    "",
    "Exit codes: 1 failure or invalid input, 2 usage, 3 integrity, 4 stopped at a gate, 5 budget.",
    "",
  ];
  for (const [pkg, list] of groups) {
    if (list.length === 0) continue;
    lines.push(`## ${pkg}`, "", "| code | meaning | hint | exit |", "|---|---|---|---|");
    for (const e of list)
      lines.push(
        `| \`${e.code}\` | ${e.title.replace(/\|/g, "\\|")} | ${e.hint.replace(/\|/g, "\\|")} | ${e.exitCode} |`,
      );
    lines.push("");
  }
  return lines.join("\n");
}

describe("docs/errors.md", () => {
  it("lists every error code of every package, and no others", async () => {
    const groups = await collect();
    const all = groups.flatMap(([, l]) => l.map((e) => e.code));
    expect(new Set(all).size, "an error code is defined twice").toBe(all.length);
    const text = render(groups);
    if (process.env.DWM_UPDATE_DOCS === "1") fs.writeFileSync(docFile, text);
    expect(fs.readFileSync(docFile, "utf8")).toBe(text);
  });
});
