import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { renderPrompt } from "@dwm/compiler";
import { digest, digestBytes, readArtifact, renderArtifact, writeArtifact, writeFileAtomic } from "@dwm/core";
import { type Attempt, type Packet, type Run, validateSchema } from "@dwm/schemas";
import { FakeClock, git, makeGitRepo, pathWithFakeClis, type TempDir } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { main } from "../main.js";

const runId = "demo-0123456789ab";
const SCORECARD = fileURLToPath(
  new URL("../../../../schemas/examples/scorecard/valid/activated.json", import.meta.url),
);

function survey(): Packet {
  return {
    kind: "packet",
    schema_version: "1",
    packet_id: "survey",
    plan_id: "demo",
    phase: {
      id: "survey",
      name: "Survey",
      entry_criteria: [],
      exit_criteria: ["survey.json exists"],
      outputs: ["survey.json"],
    },
    objective: "Survey the repository.",
    instruction: "Write survey.json listing the files.",
    depends_on: [],
    workers: [
      {
        id: "survey-worker",
        role: "surveyor",
        tool_permissions: {
          read: true,
          write: true,
          shell: true,
          network: false,
          mcp_connectors: [],
          requires_escalation_for: [],
        },
        ownership: ["survey.json"],
        forbidden_actions: [],
        prompt_contract: { inputs: [], required_output_schema: "survey.json", stop_conditions: [] },
        context_budget: { max_files: 10, max_tokens: 8000, must_include: [], must_exclude: [] },
      },
    ],
    inputs: [],
    outputs: [
      {
        artifact: "survey.json",
        format: "json",
        required_fields: [],
        validation_command: "test -s survey.json",
      },
    ],
    verification: [],
    gates: [],
    human_gate: false,
    budget: { max_retries: 1 },
    stop_conditions: [],
    completion_check: null,
  };
}

/** A run store as the compiler writes it (run.json, marker, packet, prompt), without depending on the evaluator. */
function writeRun(repoDir: string): void {
  const dir = path.join(repoDir, ".dwm/runs", runId);
  const packet = survey();
  const prompt = renderPrompt(packet, digest(packet));
  writeArtifact(path.join(dir, "packets/survey.json"), "packet", packet);
  writeFileAtomic(path.join(dir, "prompts/survey.md"), prompt);
  writeArtifact(path.join(dir, ".dwm-run"), "run-marker", {
    kind: "run-marker",
    schema_version: "1",
    run_id: runId,
  });
  // plan.json and scorecard.json too: exec refuses a store that fails its check.
  const plan = { schema_version: "0.5", plan_id: "demo", phases: [{ id: "survey" }] };
  writeFileAtomic(path.join(dir, "plan.json"), renderArtifact(plan));
  const scorecard = JSON.parse(fs.readFileSync(SCORECARD, "utf8"));
  writeArtifact(path.join(dir, "scorecard.json"), "scorecard", scorecard);
  const run: Run = {
    kind: "run",
    schema_version: "1",
    run_id: runId,
    plan_id: "demo",
    plan_schema_version: "0.5",
    plan_digest: digest(plan),
    scorecard_digest: digest(scorecard),
    compiler_version: "0.1.0",
    revision: 1,
    base_commit: git(repoDir, "rev-parse", "HEAD"),
    packets: [
      { packet_id: "survey", digest: digest(packet), prompt_digest: digestBytes(prompt), depends_on: [] },
    ],
    gates: [],
    handoffs: [],
  };
  writeArtifact(path.join(dir, "run.json"), "run", run);
}

let repo: TempDir;

beforeEach(() => {
  repo = makeGitRepo({ "README.md": "# demo\n", "src/main.txt": "main\n" });
  writeRun(repo.path);
});
afterEach(() => repo.cleanup());

async function dwm(env: Record<string, string>, ...argv: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await main(
    argv,
    { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) },
    {
      cwd: repo.path,
      env: { PATH: pathWithFakeClis(), HOME: repo.path, ...env },
      clock: new FakeClock("2026-04-01T00:00:00.000Z"),
    },
  );
  return { code, stdout, stderr };
}

describe("dwm exec", () => {
  it("runs one attempt with the codex backend and prints an attempt that validates", async () => {
    const r = await dwm({}, "exec", runId, "survey", "--backend", "codex", "--json");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const a = JSON.parse(r.stdout) as Attempt;
    expect(validateSchema("attempt", a).problems).toEqual([]);
    // bubblewrap is on this machine (CI installs it): the worker ran in it.
    expect(a.sandbox).toBe("bubblewrap");
    expect(a.packet_id).toBe("survey");
    expect(a.attempt).toBe(1);
    expect(a.invocations.map((i) => [i.worker_id, i.backend, i.outcome])).toEqual([
      ["survey-worker", "codex", "ok"],
    ]);
    // The evidence is in the run store and reads back verified.
    const file = path.join(repo.path, ".dwm/exec", runId, "survey/1/attempt.json");
    expect(readArtifact<Attempt>(file, "attempt").value).toEqual(a);
    // Outside the run store, on a ref of its own (not a branch).
    expect(fs.existsSync(path.join(repo.path, ".dwm/runs", runId, "attempts"))).toBe(false);
    expect(a.branch).toBe(`refs/dwm/${runId}/attempts/survey/exec-1`);
    // The next exec is attempt 2.
    const again = await dwm({}, "exec", runId, "survey", "--backend", "dry-run");
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("attempt 2 of survey");
    expect(again.stdout).toContain("(dry run)");
  });

  it("uses dwm.workers.json at the repository root and reports a failed task with exit 1", async () => {
    fs.writeFileSync(
      path.join(repo.path, "dwm.workers.json"),
      JSON.stringify({
        kind: "worker-bindings",
        schema_version: "1",
        bindings: { "*": { backend: "shell", shell: true, command: "echo nope >&2; exit 7" } },
      }),
    );
    const r = await dwm({}, "exec", runId, "survey");
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("survey-worker: shell task-failed exit 7");
    expect(r.stdout).toContain("output     survey.json: MISSING");
  });

  it("refuses to start workers where no sandbox works, unless --no-sandbox, which the attempt records; a dry run needs none", async () => {
    // A PATH with the programs the attempt needs, but no bwrap.
    const bin = fs.mkdtempSync(path.join(repo.path, "..", "dwm-no-bwrap-"));
    try {
      for (const p of ["git", "sh", "test"]) {
        const found = ["/usr/local/bin", "/usr/bin", "/bin"]
          .map((d) => path.join(d, p))
          .find((f) => fs.existsSync(f));
        if (found) fs.symlinkSync(found, path.join(bin, p));
      }
      fs.writeFileSync(
        path.join(repo.path, "dwm.workers.json"),
        JSON.stringify({
          kind: "worker-bindings",
          schema_version: "1",
          bindings: { "*": { backend: "shell", shell: true, command: "echo '{}' > survey.json" } },
        }),
      );
      const env = { PATH: bin };
      const refused = await dwm(env, "exec", runId, "survey");
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("ERR_SANDBOX_UNAVAILABLE");
      expect(refused.stderr).toContain("--no-sandbox");
      expect(fs.existsSync(path.join(repo.path, ".dwm/exec", runId, "survey/1"))).toBe(false);
      const ran = await dwm(env, "exec", runId, "survey", "--no-sandbox", "--json");
      expect(ran.code).toBe(0);
      const a = JSON.parse(ran.stdout) as Attempt;
      expect([a.outcome, a.sandbox]).toEqual(["ok", "none"]);
      const dry = await dwm(env, "exec", runId, "survey", "--backend", "dry-run", "--json");
      expect([dry.code, (JSON.parse(dry.stdout) as Attempt).sandbox]).toEqual([0, "none"]);
    } finally {
      fs.rmSync(bin, { recursive: true, force: true });
    }
  });

  it("has coded errors for an unknown run, an unknown packet, no bindings and a bad backend", async () => {
    const noRun = await dwm({}, "exec", "no-such-run", "survey", "--backend", "dry-run");
    expect([noRun.code, noRun.stderr.split("\n")[0]?.split(":")[0]]).toEqual([
      1,
      "error ERR_EXEC_RUN_NOT_FOUND",
    ]);
    const noPacket = await dwm({}, "exec", runId, "nope", "--backend", "dry-run");
    expect(noPacket.stderr).toContain("ERR_EXEC_PACKET_NOT_FOUND");
    const noBindings = await dwm({}, "exec", runId, "survey");
    expect(noBindings.stderr).toContain("ERR_EXEC_NO_BINDING");
    expect(noBindings.stderr).toContain('no backend is bound to worker "survey-worker", which survey needs');
    expect(noBindings.stderr).toContain("hint: Bind the worker id");
    const badBackend = await dwm({}, "exec", runId, "survey", "--backend", "aider");
    expect(badBackend.code).toBe(2);
    // shell and command take their argv from a bindings file: --backend cannot give one.
    const shellNoArgv = await dwm({}, "exec", runId, "survey", "--backend", "shell", "--json");
    expect(shellNoArgv.code).toBe(2);
    expect((JSON.parse(shellNoArgv.stdout) as { error: { code: string } }).error.code).toBe("ERR_CLI_USAGE");
  });
});
