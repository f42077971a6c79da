// A fan-out's list handoff is checked at review as the expansion reads it: a producer whose items
// lack a required field gets changes requested, with the item and the field in its repair prompt,
// instead of passing review and failing the expansion downstream (ERR_INGEST_FANOUT_INVALID).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { NextStep, Review } from "@dwm/schemas";
import { FakeClock, git, makeGitRepo, makeTempDir } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { main } from "../main.js";
import { operatorEnv, trustOperator } from "../test-support/operator.js";

const EXAMPLES = fileURLToPath(new URL("../../../../examples", import.meta.url));
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function dwm(cwd: string, ...argv: string[]) {
  const wt = makeTempDir("dwm-list-handoff-wt-");
  cleanups.push(wt.cleanup);
  let stdout = "";
  const code = await main(
    argv,
    { stdout: (s) => (stdout += s), stderr: () => {} },
    {
      cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: wt.path, ...operatorEnv() },
      clock: new FakeClock("2026-01-01T00:00:00.000Z", 1),
      emit: () => {},
    },
  );
  return { code, stdout };
}

describe("a json-list handoff at review", () => {
  it("an item without a required field is the producer's changes-requested, naming the item and the field", async () => {
    const repo = makeGitRepo({ ".gitignore": ".dwm/\n" });
    cleanups.push(repo.cleanup);
    fs.cpSync(path.join(EXAMPLES, "fan-out"), repo.path, { recursive: true });
    // The list command forgets the path of its second item.
    fs.writeFileSync(
      path.join(repo.path, "scripts/list.mjs"),
      [
        'import fs from "node:fs";',
        'fs.mkdirSync("items", { recursive: true });',
        'const items = [{ id: "gates", path: "docs/gates.md" }, { id: "verify" }];',
        'fs.writeFileSync("items/documents.json", JSON.stringify(items, null, 2) + "\\n");',
        "",
      ].join("\n"),
    );
    git(repo.path, "add", "-A");
    git(repo.path, "commit", "-q", "-m", "a list item without its path");
    trustOperator(repo.path);

    const r = await dwm(repo.path, "run", "workflow.plan.json");
    expect(r.code).toBe(1);
    const runs = path.join(repo.path, ".dwm", "runs");
    const runDir = path.join(runs, fs.readdirSync(runs)[0] as string);
    const review = JSON.parse(fs.readFileSync(path.join(runDir, "reviews/list/1.json"), "utf8")) as Review;
    expect(review.verdict).toBe("changes-requested");
    expect(review.findings.map((f) => [f.code, f.message, f.evidence.map((e) => e.excerpt)])).toEqual([
      [
        "REVIEW_HANDOFF_FIELDS_MISSING",
        "handoff items/documents.json lacks required field(s) path",
        ['item [1] lacks path:\n{"id":"verify"}'],
      ],
    ]);
    // The repair attempt was told which item lacks what; nothing was expanded from the bad list.
    const second = JSON.parse(fs.readFileSync(path.join(runDir, "attempts/list/2/attempt.json"), "utf8"));
    const prompt = fs.readFileSync(
      path.join(runDir, "attempts/list/2", second.invocations[0].prompt),
      "utf8",
    );
    expect(prompt).toContain("item [1] lacks path:");
    const journal = fs.readFileSync(path.join(runDir, "journal.jsonl"), "utf8");
    expect(journal).not.toContain("fanout.expanded");
    expect(journal).not.toContain("ERR_INGEST_FANOUT_INVALID");
    const next = JSON.parse((await dwm(repo.path, "next", "--json")).stdout) as NextStep;
    expect(next).toMatchObject({ action: "inspect-failure", packet_id: "list" });
  }, 300_000);
});
