// docs/fan-out.md and skill/SKILL.md state the environment an item's command or worker gets.
// This keeps their variable lists equal to what the executor sets: a real attempt of a fan-out
// command item records (and its command sees) exactly the variables the docs give every job,
// a `command`-backend worker gets the one more they name, and the pass-through names are the
// executor's. Adding, renaming or dropping a variable on either side fails here.
import fs from "node:fs";
import path from "node:path";
import { git, makeGitRepo, type TempDir } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BASE_ENV_NAMES } from "./internal/env.js";
import { planJobInvocation } from "./internal/invocation.js";
import { jobsOf } from "./internal/jobs.js";
import { runAttempt } from "./run-attempt.js";
import { input, makeTempDir, packet, ports, request, worker } from "./test-support/builders.js";

const root = new URL("../../../", import.meta.url);
const read = (rel: string) => fs.readFileSync(new URL(rel, root), "utf8");

/** The `| \`DWM_…\` | value | who gets it |` rows of a markdown text: name → who gets it. */
function documentedVariables(text: string): Map<string, string> {
  const rows = [...text.matchAll(/^\| `(DWM_[A-Z_]+)` \|.*\| ([^|]+) \|$/gm)];
  return new Map(rows.map((m) => [m[1] as string, (m[2] as string).trim()]));
}

/** The pass-through sentence of docs/fan-out.md: the names a job gets from DWM's own environment. */
function documentedPassThrough(text: string): string[] {
  const m = /only these names from DWM's own environment, when set:\n?([^.]*)\./.exec(text);
  return [...(m?.[1] ?? "").matchAll(/`([A-Z_]+)`/g)].map((x) => x[1] as string);
}

const EVERY_JOB = "every job";
const COMMAND_BACKEND = "workers bound to the `command` backend only";
const doc = read("docs/fan-out.md");
const skill = read("skill/SKILL.md");
const documented = documentedVariables(doc);
const namesFor = (scopes: readonly string[]) =>
  [...documented].filter(([, who]) => scopes.includes(who)).map(([name]) => name);

let repo: TempDir;
let store: TempDir;
beforeEach(() => {
  repo = makeGitRepo({ "README.md": "# demo\n", "docs/intro.md": "one two three\n" });
  store = makeTempDir("dwm-fanout-doc-");
});
afterEach(() => {
  repo.cleanup();
  store.cleanup();
});

// What the item's command writes: the DWM_* variables it saw, where it ran, the item it read.
const SCRIPT = `
const fs = require("node:fs");
const path = require("node:path");
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("DWM_")));
const item = JSON.parse(fs.readFileSync(path.join(process.env.DWM_INPUTS_DIR, "fanout-item.json"), "utf8"));
fs.mkdirSync(process.env.DWM_PACKET_ID, { recursive: true });
fs.writeFileSync(path.join(process.env.DWM_PACKET_ID, "seen.json"), JSON.stringify({ env, cwd: process.cwd(), item }));
`;

describe("docs/fan-out.md: the environment of an item's attempt", () => {
  it("lists each variable once, with who gets it, and SKILL.md lists the same", () => {
    expect([...documented.values()].every((who) => who === EVERY_JOB || who === COMMAND_BACKEND)).toBe(true);
    expect(namesFor([EVERY_JOB]).length).toBeGreaterThan(0);
    expect([...documentedVariables(skill).keys()].sort()).toEqual([...documented.keys()].sort());
  });

  it("a fan-out command item gets exactly the variables the doc gives every job, and the pass-through names", async () => {
    const item = { id: "intro", path: "docs/intro.md" };
    const id = "measure/intro-e0344588";
    const pk = packet({
      packet_id: id,
      workers: [],
      outputs: [
        {
          artifact: `${id}/seen.json`,
          format: "json",
          required_fields: [],
          // As expansion writes it; the doc says a check gets no DWM_* variable.
          validation_command: `cd ${id} && test -s seen.json && test -z "$(env | grep '^DWM_')"`,
        },
      ],
      command: { argv: [process.execPath, "-e", SCRIPT] },
    });
    // Every pass-through name set in DWM's environment, and one that must not pass.
    const hostEnv = {
      LC_ALL: "C.UTF-8",
      TERM: "dumb",
      TMPDIR: store.path,
      TRACEPARENT: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      TRACESTATE: "dwm=1",
      NOT_PASSED: "1",
    };
    const p = ports(store, hostEnv);
    const a = await runAttempt(
      request(repo.path, pk, {}, { inputs: [input("fanout-item.json", `${JSON.stringify(item)}\n`)] }),
      p,
    );
    expect(a.outcome).toBe("ok");
    expect(a.checks.map((c) => [c.id, c.passed])).toEqual([["validation-1", true]]);

    const recorded = a.invocations[0]?.env_names ?? [];
    const everyJob = namesFor([EVERY_JOB]).sort();
    expect(recorded.filter((n) => n.startsWith("DWM_"))).toEqual(everyJob);
    expect(recorded.filter((n) => !n.startsWith("DWM_"))).toEqual([...documentedPassThrough(doc)].sort());

    const head = a.head_commit ?? "";
    expect(head).toMatch(/^[0-9a-f]{40}$/);
    const seen = JSON.parse(git(repo.path, "show", `${head}:${id}/seen.json`));
    expect(Object.keys(seen.env).sort()).toEqual(everyJob);
    // The checkout is gone after the attempt: its path as the command saw it.
    expect(seen.cwd).toBe(seen.env.DWM_WORKTREE);
    expect(seen.env).toMatchObject({
      DWM_RUN_ID: "demo-0123456789ab",
      DWM_PACKET_ID: id,
      DWM_ATTEMPT: "1",
      DWM_WORKER_ID: "command",
      DWM_INPUTS_DIR: path.join(seen.env.DWM_WORKTREE, ".dwm-inputs"),
    });
    expect(seen.item).toEqual(item);
    // The inputs are never part of the commit.
    expect(git(repo.path, "ls-tree", "-r", "--name-only", head)).not.toContain(".dwm-inputs");
  });

  it("the pass-through names are the executor's, and a command-backend worker gets the doc's one more variable", () => {
    expect(documentedPassThrough(doc)).toEqual([...BASE_ENV_NAMES]);
    const req = request(repo.path, packet({ workers: [worker("w")] }), {
      w: { backend: "command", argv: ["tool", "{output_dir}"] },
    });
    const [job] = jobsOf(req);
    if (job === undefined) throw new Error("no job");
    const planned = planJobInvocation(
      req,
      job,
      { worktree: "/wt", ioDir: "/tmp/dwm", sandboxed: true },
      { PATH: "/bin" },
    );
    expect(planned.envNames.filter((n) => n.startsWith("DWM_"))).toEqual(
      namesFor([EVERY_JOB, COMMAND_BACKEND]).sort(),
    );
    expect(namesFor([COMMAND_BACKEND])).toEqual(["DWM_OUTPUT_DIR"]);
  });
});
