// The CLI's manifest gate: each case of fixtures/cli/manifest.json commits a fixture
// repository and runs a session of `dwm` commands in it through `main` (the command handlers
// the binary runs; a fake clock, a fixed environment), with file changes between them where
// the case asks. Checked: every step's exit code, the last step's error code, and values
// picked from the JSON outputs by pointer. Golden digests cover each JSON output, with the
// repository's path, the values that carry process timings and the package versions left out.
import path from "node:path";
import { digest } from "@dwm/core";
import {
  type CaseContext,
  FakeClock,
  type FileTamper,
  type GateCase,
  type GateSuite,
  git,
  makeGitRepo,
  scrubPaths,
  tamperFiles,
  trustTestOperator,
  writeTestOperatorConfig,
} from "@dwm/test-utils";
import { main } from "../index.js";
import { comparable, filesOf, pick } from "./json-view.js";

/** One step of a session: a dwm command line ({run} is the run id the session last saw), or file changes. */
type Step = { dwm: string[] } | { tamper: FileTamper[] };

interface CliCase extends GateCase {
  /** A folder below fixtures/cli committed as the repository (the session's working directory). */
  repo: string;
  steps: Step[];
}

interface StepResult {
  code: number;
  stdout: string;
  stderr: string;
  json: unknown;
}

async function dwm(argv: string[], ctx: CaseContext, cwd: string, clock: FakeClock): Promise<StepResult> {
  let stdout = "";
  let stderr = "";
  const code = await main(
    argv,
    { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) },
    {
      cwd,
      env: {
        PATH: process.env.PATH,
        HOME: ctx.tmp,
        LANG: "C.UTF-8",
        // The test operator's key signs approvals and attestations; the case's repository trusts it.
        DWM_CONFIG_DIR: path.join(ctx.tmp, "dwm-config"),
      },
      clock,
      isTTY: false,
    },
  );
  let json: unknown = null;
  if (argv.includes("--json")) {
    try {
      json = JSON.parse(stdout);
    } catch {
      json = null;
    }
  }
  return { code, stdout, stderr, json };
}

function runIdOf(json: unknown, previous: string): string {
  const id = (json as { run_id?: unknown } | null)?.run_id;
  return typeof id === "string" ? id : previous;
}

/** The CLI's gate suite. */
export const cliGate: GateSuite<CliCase> = {
  name: "cli",
  caseKeys: ["repo", "steps"],
  minCases: 15,
  caseTimeoutMs: 180_000,
  async runCase(c, ctx) {
    const repo = makeGitRepo({ ".gitignore": ".dwm/\n", ...filesOf(path.join(ctx.fixtures, c.repo)) });
    ctx.defer(repo.cleanup);
    writeTestOperatorConfig(path.join(ctx.tmp, "dwm-config"));
    trustTestOperator(repo.path);
    git(repo.path, "add", "dwm.operators.json");
    git(repo.path, "commit", "-q", "-m", "trust the test operator");
    const clock = new FakeClock("2026-01-01T00:00:00.000Z", 1);
    const results: StepResult[] = [];
    let runId = "";
    for (const step of c.steps) {
      if ("tamper" in step) {
        tamperFiles(
          repo.path,
          step.tamper.map((t) => ({ ...t, file: t.file.replaceAll("{run}", runId) })),
        );
        continue;
      }
      const r = await dwm(
        step.dwm.map((a) => a.replaceAll("{run}", runId)),
        ctx,
        repo.path,
        clock,
      );
      results.push(r);
      runId = runIdOf(r.json, runId);
      if (r.json !== null) {
        const stable = comparable(scrubPaths(r.json, { "<repo>": repo.path, "<tmp>": ctx.tmp }));
        ctx.golden(`step-${results.length}`, digest(stable));
      }
    }
    const last = results.at(-1);
    ctx.checkAll({
      exit_codes: results.map((r) => r.code),
      error: /^error (ERR_[A-Z0-9_]+):/m.exec(last?.stderr ?? "")?.[1] ?? null,
      json: pick(
        results.map((r) => r.json),
        (c.expect.json ?? {}) as Record<string, unknown>,
      ),
    });
  },
};
