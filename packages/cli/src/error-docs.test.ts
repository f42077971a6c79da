// docs/errors.md must list exactly the codes of every package's catalogues: errors (`*Errors`),
// plan warnings (`*Warnings`) and review findings (`*Findings`); and every code any package's
// source can emit must be one of them.
// Regenerate it with: DWM_UPDATE_DOCS=1 pnpm --filter @dwm/cli exec vitest run src/error-docs.test.ts
import fs from "node:fs";
import path from "node:path";
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

const root = fileURLToPath(new URL("../../../", import.meta.url));
const docFile = path.join(root, "docs/errors.md");

/** What a catalogue entry of any kind carries; errors add an exit code, findings what they lead to. */
interface Descriptor {
  code: string;
  title: string;
  hint: string;
  exitCode?: ErrorDescriptor["exitCode"];
  effects?: readonly string[];
}

type Kind = "Errors" | "Warnings" | "Findings";
const KINDS: readonly Kind[] = ["Errors", "Warnings", "Findings"];

async function collect(kind: Kind): Promise<[string, Descriptor[]][]> {
  const out: [string, Descriptor[]][] = [];
  for (const [pkg, load] of Object.entries(PACKAGES)) {
    const mod = await load();
    const list: Descriptor[] = [];
    for (const [name, value] of Object.entries(mod)) {
      if (name.endsWith(kind) && value && typeof (value as { list?: unknown }).list === "function") {
        list.push(...(value as { list: () => Descriptor[] }).list());
      }
    }
    out.push([pkg, list.sort((a, b) => a.code.localeCompare(b.code))]);
  }
  return out;
}

const cell = (s: string) => s.replace(/\|/g, "\\|");

/** A markdown table of a catalogue, with an optional last column. */
function table(list: Descriptor[], last: [string, (e: Descriptor) => string] | null): string[] {
  const cols = ["code", "meaning", "hint", ...(last ? [last[0]] : [])];
  const lines = [`| ${cols.join(" | ")} |`, `|${cols.map(() => "---").join("|")}|`];
  for (const e of list) {
    const cells = [`\`${e.code}\``, cell(e.title), cell(e.hint), ...(last ? [last[1](e)] : [])];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  lines.push("");
  return lines;
}

function render(groups: Record<Kind, [string, Descriptor[]][]>): string {
  const lines = [
    "# Error codes",
    "",
    "Every error DWM reports carries a permanent code, a message and a hint.",
    "This page is generated from the packages' catalogues (`src/errors.ts`, and the plan",
    "evaluator's warnings and the reviewer's findings); a test fails when it is out of date,",
    "or when any package's source names a code that is not here.",
    "",
    "Exit codes: 1 failure or invalid input, 2 usage, 3 integrity, 4 stopped at a gate, 5 budget.",
    "",
  ];
  for (const [pkg, list] of groups.Errors) {
    if (list.length > 0) lines.push(`## ${pkg}`, "", ...table(list, ["exit", (e) => String(e.exitCode)]));
  }
  for (const [pkg, list] of groups.Warnings) {
    if (list.length === 0) continue;
    lines.push(
      `## Plan warnings (${pkg})`,
      "",
      "`dwm evaluate` reports these in `scorecard.warnings`: the plan stays valid and its scores do not",
      "change, but it will likely not run as meant.",
      "",
      ...table(list, null),
    );
  }
  for (const [pkg, list] of groups.Findings) {
    if (list.length === 0) continue;
    lines.push(
      `## Review findings (${pkg})`,
      "",
      "A review records these in `review.findings`, each with the evidence behind it. They are verdicts",
      "on the work, not errors: `repair` sends the packet back with the finding in its repair prompt",
      "(changes-requested), `human` waits for an operator (needs-human), `infra` retries (infra-failed).",
      "",
      ...table(list, ["leads to", (e) => (e.effects ?? []).join(" or ")]),
    );
  }
  return lines.join("\n");
}

/** Every TypeScript source file of every package (tests and test support left out). */
function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (!["generated", "test-support", "node_modules"].includes(e.name)) walk(p);
      } else if (e.name.endsWith(".ts") && !e.name.endsWith(".test.ts")) out.push(p);
    }
  };
  for (const pkg of fs.readdirSync(path.join(root, "packages"))) {
    const src = path.join(root, "packages", pkg, "src");
    if (fs.existsSync(src)) walk(src);
  }
  walk(path.join(root, "schemas/src"));
  return out;
}

describe("docs/errors.md", () => {
  it("lists every error, warning and finding code of every package, and no others", async () => {
    const groups = {} as Record<Kind, [string, Descriptor[]][]>;
    for (const k of KINDS) groups[k] = await collect(k);
    const all = KINDS.flatMap((k) => groups[k].flatMap(([, l]) => l.map((e) => e.code)));
    expect(new Set(all).size, "a code is defined twice").toBe(all.length);
    expect(groups.Warnings.flatMap(([, l]) => l).length).toBeGreaterThan(0);
    expect(groups.Findings.flatMap(([, l]) => l).length).toBeGreaterThan(20);
    const text = render(groups);
    if (process.env.DWM_UPDATE_DOCS === "1") fs.writeFileSync(docFile, text);
    expect(fs.readFileSync(docFile, "utf8")).toBe(text);
  });

  it("every package with an error catalogue is read", () => {
    const withErrors = fs
      .readdirSync(path.join(root, "packages"))
      .filter((d) => fs.existsSync(path.join(root, "packages", d, "src/errors.ts")))
      .map((d) => `@dwm/${d}`)
      .sort();
    expect(withErrors).toEqual(Object.keys(PACKAGES).sort());
  });

  it("every code a package's source names (ERR_, WARN_, REVIEW_) is on the page", () => {
    const doc = fs.readFileSync(docFile, "utf8");
    const listed = new Set([...doc.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1]));
    const missing: string[] = [];
    for (const f of sourceFiles()) {
      const text = fs.readFileSync(f, "utf8");
      for (const m of text.matchAll(/\b(?:ERR|WARN|REVIEW)_[A-Z0-9]+(?:_[A-Z0-9]+)*\b/g)) {
        if (!listed.has(m[0])) missing.push(`${path.relative(root, f)}: ${m[0]}`);
      }
    }
    expect([...new Set(missing)]).toEqual([]);
  });
});
