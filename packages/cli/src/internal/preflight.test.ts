import fs from "node:fs";
import path from "node:path";
import { openJournal } from "@dwm/runtime";
import { FakeClock, makeTempDir } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { writeRunStore } from "../test-support/run-store.js";
import { checkBeforeChange } from "./preflight.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function store() {
  const tmp = makeTempDir("dwm-preflight-");
  cleanups.push(tmp.cleanup);
  return writeRunStore(path.join(tmp.path, ".dwm", "runs"), "demo-0123456789ab").runDir;
}

function refusal(f: () => unknown): {
  code?: string;
  details?: { problems?: { code: string; file: string }[] };
} {
  try {
    f();
  } catch (e) {
    return e as { code?: string };
  }
  return {};
}

describe("checkBeforeChange", () => {
  it("passes an intact store and refuses a damaged one with ERR_CLI_STORE_DAMAGED (exit 3), listing every problem", () => {
    const dir = store();
    expect(checkBeforeChange(dir, "run", "r").ok).toBe(true);
    fs.appendFileSync(path.join(dir, "prompts", "inventory.md"), "x");
    fs.writeFileSync(path.join(dir, "stray.txt"), "?");
    const e = refusal(() => checkBeforeChange(dir, "run", "r"));
    expect(e.code).toBe("ERR_CLI_STORE_DAMAGED");
    expect((e as { exitCode?: number }).exitCode).toBe(3);
    expect(e.details?.problems?.map((p) => [p.code, p.file])).toEqual([
      ["ERR_VERIFY_FILE_DIGEST", "prompts/inventory.md"],
      ["ERR_VERIFY_UNEXPECTED_FILE", "stray.txt"],
    ]);
  });

  it("lets crash leftovers through, and what the command itself repairs", () => {
    const dir = store();
    fs.writeFileSync(path.join(dir, "packets", ".inventory.json.999999999.0a1b2c3d.tmp"), "{");
    expect(checkBeforeChange(dir, "run", "r").problems.map((p) => p.code)).toEqual([
      "ERR_VERIFY_LEFTOVER_TEMP",
    ]);
    // (opening the journal removes the dead writer's temp file)
    openJournal(dir, { clock: new FakeClock() }).close();
    expect(checkBeforeChange(dir, "run", "r").problems).toEqual([]);
    fs.appendFileSync(path.join(dir, "prompts", "inventory.md"), "x");
    expect(() =>
      checkBeforeChange(dir, "recompile", "r", { repairs: (p) => p.file === "prompts/inventory.md" }),
    ).not.toThrow();
  });

  it("a planted `<n>.json.refused-<seq>` under approvals/ refuses the command (nothing writes that name any more)", () => {
    const dir = store();
    openJournal(dir, { clock: new FakeClock() }).close();
    fs.mkdirSync(path.join(dir, "approvals", "write-gate"), { recursive: true });
    fs.writeFileSync(path.join(dir, "approvals", "write-gate", "1.json.refused-7"), "{}");
    const e = refusal(() => checkBeforeChange(dir, "run", "r"));
    expect(e.code).toBe("ERR_CLI_STORE_DAMAGED");
    expect(e.details?.problems?.map((p) => [p.code, p.file])).toEqual([
      ["ERR_VERIFY_UNEXPECTED_FILE", "approvals/write-gate/1.json.refused-7"],
    ]);
  });

  it("while a live runner holds the run, a file it journals a moment later does not refuse the command", () => {
    const dir = store();
    const runner = openJournal(dir, { clock: new FakeClock() });
    cleanups.push(() => runner.close());
    const transient = path.join(dir, "handoffs", "inventory.json");
    fs.mkdirSync(path.dirname(transient), { recursive: true });
    fs.writeFileSync(transient, "{}");
    // The runner names it (here: takes it away) while the check waits.
    const waited: string[] = [];
    const report = checkBeforeChange(dir, "approve", "r", {
      wait: () => {
        waited.push("waited");
        fs.rmSync(transient);
      },
    });
    expect([report.ok, waited]).toEqual([true, ["waited"]]);
    // A command that takes the lock is refused at once, before any check.
    expect(refusal(() => checkBeforeChange(dir, "run", "r", { needsLock: true })).code).toBe(
      "ERR_RUN_LOCKED",
    );
    // What stays wrong still refuses.
    fs.writeFileSync(transient, "{}");
    expect(refusal(() => checkBeforeChange(dir, "approve", "r")).code).toBe("ERR_CLI_STORE_DAMAGED");
  });
});
