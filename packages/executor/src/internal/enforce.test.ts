import type { ChangedFile } from "@dwm/schemas";
import { describe, expect, it } from "vitest";
import { enforcePermissions } from "./enforce.js";
import type { Job } from "./jobs.js";

function job(workerId: string, write: boolean, ownership: string[], command = false): Job {
  return {
    index: 1,
    workerId,
    role: workerId,
    binding: { backend: "shell", argv: ["true"] },
    permissions: command ? null : { write, shell: true, network: false },
    ownership,
    dir: `workers/1-${workerId}`,
  };
}
const change = (path: string, ...workers: string[]): ChangedFile => ({ path, status: "modified", workers });

describe("enforcePermissions", () => {
  it("a read-only worker that changed files other than declared outputs is a read-only violation", () => {
    const changed = [
      change("report.md", "reader"),
      change("src/x.ts", "reader"),
      change("src/y.ts", "other"),
    ];
    expect(enforcePermissions([job("reader", false, [])], changed, new Set(["report.md"]))).toEqual({
      findings: [
        {
          code: "read-only-violation",
          message: "read-only worker reader changed 1 file(s)",
          worker_id: "reader",
          paths: ["src/x.ts"],
        },
      ],
      notes: [],
    });
  });

  it("a writer outside its path ownership is an ownership violation; inside it and declared outputs are not", () => {
    const changed = [change("src/ok.ts", "w"), change("docs/no.md", "w"), change("out/report.md", "w")];
    expect(enforcePermissions([job("w", true, ["src/**"])], changed, new Set(["out/report.md"]))).toEqual({
      findings: [
        {
          code: "ownership-violation",
          message: "worker w changed 1 file(s) outside its ownership (src/**)",
          worker_id: "w",
          paths: ["docs/no.md"],
        },
      ],
      notes: [],
    });
  });

  it("a writer whose ownership is prose is not restricted, and a note says so", () => {
    const r = enforcePermissions(
      [job("w", true, ["the parser module"])],
      [change("any/where.ts", "w")],
      new Set(),
    );
    expect(r).toEqual({
      findings: [],
      notes: [
        'worker w may write and its ownership names no paths ("the parser module"): its changes are not restricted',
      ],
    });
    expect(enforcePermissions([job("w", true, [])], [], new Set()).notes).toEqual([
      "worker w may write and its ownership names no paths (none): its changes are not restricted",
    ]);
  });

  it("a packet's own command has no permissions to enforce", () => {
    expect(
      enforcePermissions([job("command", false, [], true)], [change("x", "command")], new Set()),
    ).toEqual({
      findings: [],
      notes: [],
    });
  });
});
