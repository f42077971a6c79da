// Attempts in the shared read-only view (packets whose writes are confined to their output
// folder), with the real bubblewrap sandbox: the same item run both ways gives the same record,
// and a worker that attacks the view, the store or another item's folder gets nothing recorded.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { bubblewrapSandbox, noSandbox } from "@dwm/core";
import type { Attempt, Packet } from "@dwm/schemas";
import { git, makeGitRepo, makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runAttempt } from "./run-attempt.js";
import { createSharedViews, type SharedViews } from "./shared-views.js";
import { input, packet, ports, request } from "./test-support/builders.js";

const sandbox = bubblewrapSandbox();
const probe = await sandbox.probe();
if (!probe.ok && process.env.CI) throw new Error(`CI must have a working bubblewrap: ${probe.reason}`);

const ITEM = "check/a-1234abcd";

let repo: TempDir;
let store: TempDir;
let views: SharedViews;
let viewRoot: string;

beforeEach(() => {
  repo = makeGitRepo({
    "README.md": "# demo\n",
    "src/main.txt": "main\n",
    "check/existing.txt": "a file of the repository in the phase's folder\n",
    "scripts/ok.sh": "#!/bin/sh\nexit 0\n",
  });
  store = makeTempDir("dwm-view-");
  viewRoot = path.join(store.path, "views");
  views = createSharedViews(viewRoot);
  fs.mkdirSync(path.join(repo.path, ".dwm", "runs", "r"), { recursive: true });
  fs.writeFileSync(path.join(repo.path, ".dwm", "runs", "r", "secret.txt"), "RUN STORE\n");
});
afterEach(() => {
  views.close();
  repo.cleanup();
  store.cleanup();
});

/** A fan-out item packet whose command is `script` and whose one output is `<item>/out.json`. */
function item(script: string, id = ITEM, overrides: Partial<Packet> = {}): Packet {
  return packet({
    packet_id: id,
    workers: [],
    command: { script },
    outputs: [
      {
        artifact: `${id}/out.json`,
        format: "json",
        required_fields: [],
        validation_command: `cd ${id} && test -s out.json`,
      },
    ],
    fanout: {
      role: "item",
      template: "check",
      template_digest: `sha256:${"0".repeat(64)}`,
      first: "check",
      key: "a",
      item: { file: "a" },
      item_digest: `sha256:${"1".repeat(64)}`,
      source_packet: "list",
      reduce: "report",
    },
    ...overrides,
  });
}

function run(p: Packet, n: number, extra: { views?: SharedViews; sandbox?: typeof sandbox } = {}) {
  const pp = { ...ports(store, {}, n), sandbox: extra.sandbox ?? sandbox, ...(extra.views ? { views: extra.views } : {}) };
  return runAttempt(request(repo.path, p, {}, { attempt: n, inputs: [input("fanout-item.json", '{"file":"a"}\n')] }), pp);
}

/** The view's files equal the base commit's tree, nothing more (git's own check, with the view's git folder). */
function viewMatchesBase(base: string): void {
  const dir = path.join(viewRoot, base);
  expect(git(dir, "status", "--porcelain", "--untracked-files=all", "--ignored")).toBe("");
  expect(git(dir, "rev-parse", "HEAD")).toBe(base);
  expect(git(dir, "write-tree")).toBe(git(repo.path, "rev-parse", `${base}^{tree}`));
}

function comparable(a: Attempt): unknown {
  const { started_at, finished_at, duration_ms, attempt_dir, ...rest } = a as unknown as Record<string, unknown>;
  // Wall-clock durations differ run to run; the view's note is the one intended difference.
  const text = JSON.stringify(rest, (k, v) => (k === "duration_ms" ? 0 : v));
  return JSON.parse(text.replaceAll(/"ran in the shared read-only view[^"]*",?/g, ""));
}

describe.runIf(probe.ok)("attempts in the shared read-only view", () => {
  it("records the same attempt as a checkout of its own would, without a checkout", async () => {
    const script = `mkdir -p "$DWM_PACKET_ID" && printf '{"n":1}\\n' > "$DWM_PACKET_ID/out.json" && cat "$DWM_INPUTS_DIR/fanout-item.json" > "$DWM_PACKET_ID/item.txt"`;
    const inView = await run(item(script), 1, { views });
    const inCheckout = await run(item(script), 2);
    expect(inView.outcome).toBe("ok");
    expect(inView.notes[0]).toMatch(/^ran in the shared read-only view of [0-9a-f]{40}/);
    expect(inCheckout.notes.some((n) => n.includes("shared read-only view"))).toBe(false);
    expect(inView.head_commit).not.toBeNull();
    // The same commit both ways: same tree, same parent, same identity and clock.
    expect(git(repo.path, "rev-parse", `${inView.head_commit}^{tree}`)).toBe(
      git(repo.path, "rev-parse", `${inCheckout.head_commit}^{tree}`),
    );
    expect(git(repo.path, "ls-tree", "-r", "--name-only", inView.head_commit ?? "", "--", ITEM)).toBe(
      `${ITEM}/item.txt\n${ITEM}/out.json`,
    );
    const a = comparable(inView) as Record<string, unknown>;
    const b = comparable(inCheckout) as Record<string, unknown>;
    // Attempt numbers, refs and commit messages name the attempt; nothing else may differ.
    expect({ ...a, attempt: 0, branch: "", head_commit: "" }).toEqual({ ...b, attempt: 0, branch: "", head_commit: "" });
    const dirOf = (n: number) => path.join(store.path, "attempts", "build", String(n));
    for (const f of ["diff.patch", `outputs/${ITEM}/out.json`, "checks/validation-1/stdout"]) {
      if (!fs.existsSync(path.join(dirOf(2), f))) continue;
      expect(fs.readFileSync(path.join(dirOf(1), f), "utf8")).toBe(fs.readFileSync(path.join(dirOf(2), f), "utf8"));
    }
    expect(inView.checks.map((c) => [c.id, c.passed])).toEqual([["validation-1", true]]);
    viewMatchesBase(inView.base_commit);
  });
});
