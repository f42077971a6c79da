// The parts of the test environment that `pnpm install` does not bring: programs from the system's
// packages, the pinned agent CLIs, the reference plans. scripts/ci-setup.sh (run by `pnpm test`
// and .ci/run) installs what it can before any test runs; these helpers let a test that needs a
// part fail with the same message when it is missing, and skip only when the user left the part
// out on purpose with DWM_TEST_SKIP (documented in the README). The part names are the ones
// ci-setup.sh knows (a test keeps the two lists equal).
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** A part of the test environment that scripts/ci-setup.sh provides or names. */
export type TestPart =
  | "redis-server"
  | "openssl"
  | "bubblewrap"
  | "chromium"
  | "zsh"
  | "fish"
  | "iproute2"
  | "util-linux"
  | "agent-clis"
  | "reference-plans";

interface PartInfo {
  /** What it is, for the messages. */
  what: string;
  /** Which tests need it. */
  neededBy: string;
  /** The command that installs it (run from the repository root). */
  install: string;
  /** Whether it is there. */
  present: () => boolean;
}

const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

function runs(program: string, ...args: string[]): boolean {
  return spawnSync(program, args, { stdio: "ignore", timeout: 30_000 }).status === 0;
}

/** Every part, with what needs it and how to install it. */
export const TEST_PARTS: Readonly<Record<TestPart, PartInfo>> = {
  "redis-server": {
    what: "redis-server (Debian package redis-server)",
    neededBy: "the scale-out tests (BullMQ queue, dwm run --queue, dwm worker)",
    install: "apt-get install -y redis-server",
    present: () => runs("redis-server", "--version"),
  },
  openssl: {
    what: "openssl (Debian package openssl)",
    neededBy: "the TLS scale-out test (a throwaway CA)",
    install: "apt-get install -y openssl",
    present: () => runs("openssl", "version"),
  },
  bubblewrap: {
    what: "bwrap (Debian package bubblewrap)",
    neededBy: "the worker sandbox tests",
    install: "apt-get install -y bubblewrap",
    present: () => runs("bwrap", "--version"),
  },
  chromium: {
    what: "chromium (Debian package chromium)",
    neededBy: "the HTML report test",
    install: "apt-get install -y chromium",
    present: () => runs("chromium", "--version"),
  },
  zsh: {
    what: "zsh (Debian package zsh)",
    neededBy: "the zsh completion test of dwm",
    install: "apt-get install -y zsh",
    present: () => runs("zsh", "--version"),
  },
  fish: {
    what: "fish (Debian package fish)",
    neededBy: "the fish completion test of dwm",
    install: "apt-get install -y fish",
    present: () => runs("fish", "--version"),
  },
  iproute2: {
    what: "ip (Debian package iproute2)",
    neededBy: "the scale-out namespace test (workers on hosts of their own)",
    install: "apt-get install -y iproute2",
    present: () => runs("ip", "-V"),
  },
  "util-linux": {
    what: "unshare (Debian package util-linux)",
    neededBy: "the scale-out namespace test (workers on hosts of their own)",
    install: "apt-get install -y util-linux",
    present: () => runs("unshare", "--version"),
  },
  "agent-clis": {
    what: "the pinned Codex CLI and Claude Code in tools/agent-clis",
    neededBy: "the real-CLI contract tests (@dwm/agent-contracts)",
    install: "npm ci --prefix tools/agent-clis",
    // The versions are the contract harness's business (it names a mismatch); here: installed at all.
    present: () =>
      ["codex", "claude"].every((b) =>
        fs.existsSync(path.join(REPO_ROOT, "tools/agent-clis/node_modules/.bin", b)),
      ),
  },
  "reference-plans": {
    what: "the reference plans, looked for in ../shared/reference-plans beside the checkout",
    neededBy: "the reference-plan tests of @dwm/plan-evaluator and @dwm/compiler",
    install: "export DWM_REFERENCE_PLANS=<the folder that holds them>",
    present: () => referencePlansFolder() !== null,
  },
};

/** The parts the user left out: DWM_TEST_SKIP, a comma-separated list of part names. */
export function skippedParts(env: NodeJS.ProcessEnv = process.env): Set<TestPart> {
  const names = (env.DWM_TEST_SKIP ?? "").split(/[\s,]+/).filter((n) => n !== "");
  for (const n of names) {
    if (!(n in TEST_PARTS)) {
      throw new Error(
        `DWM_TEST_SKIP names an unknown part "${n}"; the parts are ${Object.keys(TEST_PARTS).join(", ")}`,
      );
    }
  }
  return new Set(names as TestPart[]);
}

/** True when the user left `part` out with DWM_TEST_SKIP: the tests that need it are skipped. */
export function leftOut(part: TestPart): boolean {
  return skippedParts().has(part);
}

/** The message a test that needs a missing part fails with: what, the install command, the way to leave it out. */
export function missingPartMessage(part: TestPart, detail?: string): string {
  const p = TEST_PARTS[part];
  // The reference plans are found, never installed: ci-setup.sh only looks for them.
  const how =
    part === "reference-plans"
      ? `They are not part of this repository: \`${p.install}\``
      : `Install: \`${p.install}\` (\`bash scripts/ci-setup.sh\` does, and \`pnpm test\` runs it first)`;
  return `Missing ${p.what}${detail ? ` (${detail})` : ""}, needed by ${p.neededBy}. ${how}; or leave these tests out: DWM_TEST_SKIP=${part}.`;
}

/** Whether `part` is there. */
export function hasPart(part: TestPart): boolean {
  return TEST_PARTS[part].present();
}

/**
 * Throws the missing-part message unless `part` is there. Call it in each test that needs the part
 * (or its beforeEach): a throwing beforeAll would leave its tests reported as skipped, not failed.
 */
export function requirePart(part: TestPart): void {
  if (!hasPart(part)) {
    const set = process.env.DWM_REFERENCE_PLANS;
    const detail =
      part === "reference-plans" && set ? `DWM_REFERENCE_PLANS=${set} is not a folder` : undefined;
    throw new Error(missingPartMessage(part, detail));
  }
}

/**
 * The folder of the reference plans, or null: DWM_REFERENCE_PLANS when set, else
 * ../shared/reference-plans beside the checkout (where CI lays shared/), else this machine's
 * /work/shared/reference-plans.
 */
function referencePlansFolder(): string | null {
  const set = process.env.DWM_REFERENCE_PLANS;
  const candidates =
    set !== undefined && set !== ""
      ? [set]
      : [path.join(REPO_ROOT, "..", "shared", "reference-plans"), "/work/shared/reference-plans"];
  return candidates.find((d) => fs.existsSync(d) && fs.statSync(d).isDirectory()) ?? null;
}

/**
 * The reference plans' folder, or null when the user left them out (DWM_TEST_SKIP=reference-plans;
 * the callers skip) or they are not found (the callers' `requirePart("reference-plans")` fails).
 */
export function referencePlansDir(): string | null {
  return leftOut("reference-plans") ? null : referencePlansFolder();
}
