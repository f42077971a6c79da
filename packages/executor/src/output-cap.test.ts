// Output caps hold while a worker runs, not only after it ended: a worker (or a check) printing
// without end is killed at its cap, and the evidence file never grows past it, so it cannot fill
// the disk the run store lives on before its timeout.
import fs from "node:fs";
import path from "node:path";
import { bubblewrapSandbox, noSandbox } from "@dwm/core";
import { makeGitRepo, makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runAttempt } from "./run-attempt.js";
import { packet, ports, request } from "./test-support/builders.js";

const bwrap = bubblewrapSandbox();
const probe = await bwrap.probe();
if (!probe.ok && process.env.CI) throw new Error(`CI must have a working bubblewrap: ${probe.reason}`);

let repo: TempDir;
let store: TempDir;

beforeEach(() => {
  repo = makeGitRepo({ "README.md": "# demo\n" });
  store = makeTempDir("dwm-output-cap-");
});
afterEach(() => {
  repo.cleanup();
  store.cleanup();
});

const CAP = 64 * 1024;
// Long enough that a cap applied only at the end would be the timeout.
const limits = { timeout_ms: 120_000, kill_grace_ms: 200, max_output_bytes: CAP };

describe.each([
  ["bubblewrap", bwrap, probe.ok],
  ["no sandbox", noSandbox, true],
] as const)("%s", (_, sandbox, works) => {
  it.runIf(works)(
    "a worker printing without end is killed at the cap; its stdout holds exactly the cap",
    async () => {
      const t0 = performance.now();
      const a = await runAttempt(
        request(
          repo.path,
          packet({ outputs: [] }),
          { builder: { backend: "shell", shell: true, command: "yes 'endless output'" } },
          { limits },
        ),
        { ...ports(store), sandbox },
      );
      expect(performance.now() - t0).toBeLessThan(60_000);
      expect([a.outcome, a.invocations[0]?.timed_out, a.invocations[0]?.signal]).toEqual([
        "task-failed",
        false,
        "SIGKILL",
      ]);
      expect(a.invocations[0]?.detail).toBe(
        `stdout reached its cap of ${CAP} bytes: DWM killed the worker's processes`,
      );
      expect(fs.statSync(path.join(ports(store).attemptDir, "workers/1-builder/stdout")).size).toBe(CAP);
      expect(a.findings).toEqual([
        {
          code: "output-truncated",
          message: `worker builder wrote more than ${CAP} bytes to 1 output(s): stopped at the cap (its process group killed); each was cut there`,
          worker_id: "builder",
          paths: ["workers/1-builder/stdout"],
        },
      ]);
    },
  );

  it.runIf(works)("a check printing to stderr without end is killed at the cap and fails", async () => {
    const p = packet({
      outputs: [
        { artifact: "report.md", format: "markdown", required_fields: [], validation_command: "yes >&2" },
      ],
    });
    const a = await runAttempt(
      request(
        repo.path,
        p,
        { builder: { backend: "shell", shell: true, command: "echo r > report.md" } },
        { limits },
      ),
      { ...ports(store), sandbox },
    );
    expect(a.checks.map((c) => [c.id, c.passed, c.signal, c.timed_out])).toEqual([
      ["validation-1", false, "SIGKILL", false],
    ]);
    expect(fs.statSync(path.join(ports(store).attemptDir, "checks/validation-1.stderr")).size).toBe(CAP);
    expect(a.findings).toEqual([
      {
        code: "output-truncated",
        message: `DWM's checks wrote more than ${CAP} bytes to 1 output(s): stopped at the cap (its process group killed); each was cut there`,
        worker_id: null,
        paths: ["checks/validation-1.stderr"],
      },
    ]);
  });
});
